// The embedded VM: the v86 x86 emulator booting our i386 guest. Isomorphic (Node and a
// browser worker): boot files come in as bytes; the caller says where v86's wasm is.
// v86's NIC sends and takes raw Ethernet frames; the 4-byte length framing of the
// "QEMU protocol" stream is added and removed here only (linkGuestFrames).
import { V86, type V86Options } from 'v86';
import { encodeFrame, FrameDecoder } from '../net/index.js';
import type { AttachedLink, ByteLinkTransport } from '../mount.js';
/** The NIC v86 emulates for the guest (the initramfs carries the matching driver). */
export type Nic = 'virtio' | 'ne2k';

export interface V86BootFiles {
  kernel: Uint8Array;
  initrd: Uint8Array;
  bios: Uint8Array;
  vgaBios: Uint8Array;
}

export interface V86GuestOptions {
  files: V86BootFiles;
  /** v86.wasm (a path in Node, a URL in a browser). */
  wasmPath: string;
  nic?: Nic;
  /** Default 256 MiB (the guest needs at least 128). */
  memoryMiB?: number;
  /** A state from saveState() of a guest booted with the same files and options. */
  state?: ArrayBuffer;
  /** Extra kernel command-line words. */
  cmdline?: string;
}

/** The kernel command line: serial console, quiet, and no crypto self-tests (seconds under emulation). */
export const V86_CMDLINE = 'console=ttyS0 quiet loglevel=1 cryptomgr.notests=1 tsc=reliable mitigations=off random.trust_cpu=on';

export interface V86Guest {
  readonly emulator: V86;
  /** Bytes the guest writes on its serial console. */
  onSerial(listener: (byte: number) => void): void;
  /** Bytes to the guest's serial console. */
  sendSerial(data: Uint8Array | string): void;
  /** Raw Ethernet frames the guest sends. */
  onFrame(listener: (frame: Uint8Array) => void): void;
  /** A raw Ethernet frame to the guest's NIC. */
  sendFrame(frame: Uint8Array): void;
  saveState(): Promise<ArrayBuffer>;
  destroy(): Promise<void>;
}

// `bus` is missing from v86's type declarations.
interface V86WithBus {
  bus: { send(name: string, data: unknown): void };
}

const toArrayBuffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

export function startV86(opts: V86GuestOptions): Promise<V86Guest> {
  const { files } = opts;
  const options: V86Options = {
    wasm_path: opts.wasmPath,
    memory_size: (opts.memoryMiB ?? 256) << 20,
    vga_memory_size: 2 << 20,
    bios: { buffer: toArrayBuffer(files.bios) },
    vga_bios: { buffer: toArrayBuffer(files.vgaBios) },
    bzimage: { buffer: toArrayBuffer(files.kernel) },
    initrd: { buffer: toArrayBuffer(files.initrd) },
    cmdline: [V86_CMDLINE, opts.cmdline].filter(Boolean).join(' '),
    net_device: { type: opts.nic ?? 'virtio' },
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    ...(opts.state ? { initial_state: { buffer: opts.state }, preserve_mac_from_state_image: true } : {}),
  } as V86Options;
  const emulator = new V86(options);
  return new Promise((resolve) => {
    emulator.add_listener('emulator-loaded', () => {
      resolve({
        emulator,
        onSerial: (l) => emulator.add_listener('serial0-output-byte', l),
        sendSerial: (data) => emulator.serial0_send(typeof data === 'string' ? data : latin1(data)),
        onFrame: (l) => emulator.add_listener('net0-send', l),
        sendFrame: (frame) => (emulator as unknown as V86WithBus).bus.send('net0-receive', frame),
        saveState: () => emulator.save_state(),
        destroy: () => emulator.destroy(),
      });
    });
  });
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return s;
}

/**
 * Connects the guest's NIC to a byte link of a mounted image (session.attach): frames
 * out get their length prefix, the stack's byte stream is cut back into frames.
 */
export function linkGuestFrames(guest: V86Guest, attach: (transport: ByteLinkTransport) => AttachedLink): AttachedLink {
  const decoder = new FrameDecoder();
  let closed = false;
  const link = attach({
    write(bytes) {
      if (closed) return;
      for (const frame of decoder.push(bytes)) guest.sendFrame(frame);
      if (decoder.error) link.end(decoder.error);
    },
    close() {
      closed = true;
    },
  });
  guest.onFrame((frame) => {
    if (!closed) link.receive(encodeFrame(frame));
  });
  return link;
}
