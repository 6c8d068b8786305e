// The embedded VM: the v86 x86 emulator booting our i386 guest. Isomorphic (Node and a
// browser worker): boot files come in as bytes; the caller says where v86's wasm is.
// v86's NIC sends and takes raw Ethernet frames; the 4-byte length framing of the
// "QEMU protocol" stream is added and removed here only (linkGuestFrames).
import { V86, type V86Options } from 'v86';
import { encodeFrame, FrameDecoder } from '../net/index.js';
import type { AttachedLink, ByteLinkTransport } from '../mount.js';
import { resizeLine } from './init-script.js';
import { badV86State } from './v86-state.js';
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
  /**
   * A state from saveState() of a guest booted with the same files and options. The
   * kernel and initrd are then not loaded (memory comes from the state): they may be empty.
   */
  state?: ArrayBuffer;
  /** Extra kernel command-line words. */
  cmdline?: string;
}

/** The kernel command line: serial console, quiet, and no crypto self-tests (seconds under emulation). */
export const V86_CMDLINE = 'console=ttyS0 quiet loglevel=1 cryptomgr.notests=1 tsc=reliable mitigations=off random.trust_cpu=on init_on_free=1';

/** What a boot snapshot depends on besides the boot files and RAM: command line and devices. */
export const V86_MACHINE = `${V86_CMDLINE}|uart1`;

export interface V86Guest {
  readonly emulator: V86;
  /** Bytes the guest writes on its serial console. */
  onSerial(listener: (byte: number) => void): void;
  /** Bytes to the guest's serial console. */
  sendSerial(data: Uint8Array | string): void;
  /** A new terminal size for the container (through the second serial port). */
  resizeTerminal(rows: number, cols: number): void;
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
  if (opts.state) {
    const bad = badV86State(opts.state);
    if (bad) return Promise.reject(new Error(`the boot snapshot cannot be restored: ${bad}`));
  }
  const { files } = opts;
  const options: V86Options = {
    wasm_path: opts.wasmPath,
    memory_size: (opts.memoryMiB ?? 256) << 20,
    vga_memory_size: 2 << 20,
    bios: { buffer: toArrayBuffer(files.bios) },
    vga_bios: { buffer: toArrayBuffer(files.vgaBios) },
    ...(opts.state ? {} : { bzimage: { buffer: toArrayBuffer(files.kernel) }, initrd: { buffer: toArrayBuffer(files.initrd) } }),
    cmdline: [V86_CMDLINE, opts.cmdline].filter(Boolean).join(' '),
    ...(/^(https?|blob):/.test(opts.wasmPath) ? { wasm_fn: (env: WebAssembly.Imports) => compileStreaming(opts.wasmPath, env) } : {}),
    net_device: { type: opts.nic ?? 'virtio' },
    // COM2: terminal sizes (RESIZE_TTY).
    uart1: true,
    // A state is restored once v86 has loaded (restoreState), then the CPU starts.
    autostart: !opts.state,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    ...(opts.state ? { preserve_mac_from_state_image: true } : {}),
  } as V86Options;
  const emulator = new V86(options);
  const state = opts.state;
  return new Promise((resolve, reject) => {
    emulator.add_listener('emulator-loaded', () => {
      yieldInThisThread(emulator);
      if (state) {
        try {
          restoreState(emulator, state);
        } catch (e) {
          void emulator.destroy();
          return reject(new Error(`the boot snapshot cannot be restored: ${e instanceof Error ? e.message : String(e)}`));
        }
        emulator.run();
      }
      resolve({
        emulator,
        onSerial: (l) => emulator.add_listener('serial0-output-byte', l),
        sendSerial: (data) => emulator.serial0_send(typeof data === 'string' ? data : latin1(data)),
        resizeTerminal: (rows, cols) => emulator.serial_send_bytes(1, new TextEncoder().encode(resizeLine(rows, cols))),
        onFrame: (l) => emulator.add_listener('net0-send', l),
        sendFrame: (frame) => (emulator as unknown as V86WithBus).bus.send('net0-receive', frame),
        saveState: () => emulator.save_state(),
        destroy: () => emulator.destroy(),
      });
    });
  });
}

interface V86Cpu {
  zero_memory(start: number, length: number): void;
}
interface V86Machine {
  cpu: V86Cpu;
  restore_state(state: ArrayBuffer): void;
}

/**
 * Below this, v86's start-up writes guest memory before any state is restored (BIOS, VGA
 * BIOS, tables); above it, the memory of a fresh emulator is untouched (a test checks).
 */
export const V86_START_UP_WRITES_BELOW = 1 << 20;

/**
 * v86 zeroes all guest memory before it copies a state's non-zero pages in: that took
 * 0.8 s of a 1.5 s restore of 256 MiB, nearly all of it the host committing memory that
 * was never touched and is zero already. In an emulator that has not run, only the low
 * megabyte its start-up wrote is zeroed (through v86, which also drops compiled code).
 */
function restoreState(emulator: V86, state: ArrayBuffer): void {
  const machine = (emulator as unknown as { v86: V86Machine }).v86;
  const cpu = machine.cpu;
  const zeroAll = cpu.zero_memory;
  cpu.zero_memory = (start, length) => {
    if (start < V86_START_UP_WRITES_BELOW) zeroAll.call(cpu, start, Math.min(length, V86_START_UP_WRITES_BELOW - start));
  };
  try {
    machine.restore_state(state);
  } finally {
    cpu.zero_memory = zeroAll;
  }
}

/**
 * In a browser, v86's wasm is compiled while it downloads, and Chromium keeps the
 * compiled code with the cached response for the next load; v86's own loader compiles
 * the whole file each time.
 */
async function compileStreaming(url: string, env: WebAssembly.Imports): Promise<WebAssembly.Exports> {
  const { instance } = await WebAssembly.instantiateStreaming(fetch(url), env);
  return instance.exports;
}

// v86's run loop as seen from outside (not in its type declarations).
interface V86RunLoop {
  worker: Worker | null;
  running: boolean;
  tick_counter: number;
  yield(t: number, tick: number): void;
  yield_callback(tick: number): void;
  unregister_yield(): void;
}

/**
 * In a browser, v86 runs a slice of about a millisecond and then asks a helper worker to
 * post the next tick back: a round trip through another thread per slice. On a loaded
 * machine (our 2 cores also run the stack's worker and the page) that thread waits for a
 * core, and the guest ran at half speed. A MessageChannel to this thread is a task with
 * no clamping and no other thread; timed waits (the guest idle) stay on setTimeout.
 * Node's loop (setImmediate) is left alone.
 */
function yieldInThisThread(emulator: V86): void {
  const loop = (emulator as unknown as { v86?: V86RunLoop }).v86;
  if (!loop?.worker || typeof MessageChannel === 'undefined') return;
  loop.worker.terminate();
  loop.worker = null;
  const channel = new MessageChannel();
  channel.port1.onmessage = (e: MessageEvent<number>) => loop.yield_callback(e.data);
  loop.yield = (t, tick) => {
    if (t < 1) channel.port2.postMessage(tick);
    else setTimeout(() => loop.yield_callback(tick), t);
  };
  loop.unregister_yield = () => channel.port1.close();
  // The tick the helper worker still owed went with it: start a new one.
  if (loop.running) loop.yield(0, ++loop.tick_counter);
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
