// Classic libpcap files (LINKTYPE_ETHERNET), so a run can be opened in Wireshark or
// tcpdump -r. Pure: produces bytes, the caller writes them.

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

export class PcapWriter {
  constructor(private readonly snaplen = 65535) {}

  /** The 24-byte global header; write it once before any record. */
  header(): Uint8Array {
    const out = new Uint8Array(24);
    const v = new DataView(out.buffer);
    v.setUint32(0, MAGIC_MICROSECONDS, true); // little-endian file; readers detect the byte order from this
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    return out;
  }

  /** One record: 16-byte header plus the frame (cut to the snaplen). `timeMs` is wall-clock epoch ms. */
  record(frame: Uint8Array, timeMs: number): Uint8Array {
    const caplen = Math.min(frame.length, this.snaplen);
    const out = new Uint8Array(16 + caplen);
    const v = new DataView(out.buffer);
    const seconds = Math.floor(timeMs / 1000);
    v.setUint32(0, seconds, true);
    v.setUint32(4, Math.min(999_999, Math.round((timeMs - seconds * 1000) * 1000)), true);
    v.setUint32(8, caplen, true);
    v.setUint32(12, frame.length, true);
    out.set(frame.subarray(0, caplen), 16);
    return out;
  }
}
