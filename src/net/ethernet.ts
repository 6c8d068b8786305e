// Ethernet II: the only link layer the VM speaks. No FCS (QEMU strips it), no VLANs.

export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export type Mac = Uint8Array;
export const BROADCAST_MAC: Mac = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface EthernetFrame {
  dst: Mac;
  src: Mac;
  etherType: number;
  /** May carry trailing padding (frames are at least 60 bytes on the wire); the IP layer trims it. */
  payload: Uint8Array;
}

export function parseEthernet(frame: Uint8Array): EthernetFrame | null {
  if (frame.length < ETH_HLEN) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, ETH_HLEN);
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType: view.getUint16(12),
    payload: frame.subarray(ETH_HLEN),
  };
}

/** Writes the header at offset 0 of `frame`; the payload goes at ETH_HLEN. */
export function writeEthernetHeader(frame: Uint8Array, dst: Mac, src: Mac, etherType: number): void {
  frame.set(dst, 0);
  frame.set(src, 6);
  new DataView(frame.buffer, frame.byteOffset, ETH_HLEN).setUint16(12, etherType);
}

export function isUnicastMac(mac: Mac): boolean {
  return (mac[0]! & 1) === 0;
}

export function macEquals(a: Mac, b: Mac): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function macToString(mac: Mac): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(text: string): Mac {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`bad MAC address ${text}`);
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}
