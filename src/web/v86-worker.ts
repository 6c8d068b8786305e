// The embedded VM's worker: v86 booting our i386 guest (src/vm), its NIC on c2w's rings
// (the same QEMU-framed stream every transport carries: the length prefix is added and
// removed here), its serial console relayed to the page. The page drives the console
// (markers, settings line, terminal) and keeps the boot snapshot.
import { FrameDecoder, encodeFrame } from '../net/index.js';
import { pumpRings } from '../c2w/ring-pump.js';
import type { RingBuffers } from '../transport/rings.js';
import { startV86, type Nic, type V86Guest } from '../vm/v86.js';

export interface V86Assets {
  /** URLs of the boot files and v86's wasm. */
  kernel: string;
  initrd: string;
  bios: string;
  vgaBios: string;
  wasm: string;
  nic: Nic;
}

export type ToV86Worker =
  | { type: 'start'; assets: V86Assets; rings: RingBuffers; memoryMiB: number; state?: ArrayBuffer }
  | { type: 'serial'; bytes: Uint8Array }
  | { type: 'resize'; rows: number; cols: number }
  | { type: 'save' };

export type FromV86Worker =
  | { type: 'booted'; restored: boolean }
  | { type: 'serial'; bytes: Uint8Array }
  | { type: 'state'; state: ArrayBuffer }
  | { type: 'error'; message: string };

const post = (m: FromV86Worker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
let guest: V86Guest | undefined;

self.addEventListener('message', (ev: MessageEvent<ToV86Worker>) => {
  const m = ev.data;
  if (m.type === 'start') void start(m).catch((e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
  else if (m.type === 'serial') guest?.sendSerial(m.bytes);
  else if (m.type === 'resize') guest?.resizeTerminal(m.rows, m.cols);
  else if (m.type === 'save') {
    void guest?.saveState().then(
      (state) => post({ type: 'state', state }, [state]),
      (e: unknown) => post({ type: 'error', message: `saving the boot snapshot: ${e instanceof Error ? e.message : String(e)}` }),
    );
  }
});

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetching ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function start(m: Extract<ToV86Worker, { type: 'start' }>): Promise<void> {
  // A restored state carries the kernel and initramfs in its memory: only the BIOS files load.
  const none = async () => new Uint8Array(0);
  const [kernel, initrd, bios, vgaBios] = await Promise.all([
    m.state ? none() : fetchBytes(m.assets.kernel),
    m.state ? none() : fetchBytes(m.assets.initrd),
    fetchBytes(m.assets.bios),
    fetchBytes(m.assets.vgaBios),
  ]);
  const g = await startV86({
    files: { kernel: kernel!, initrd: initrd!, bios: bios!, vgaBios: vgaBios! },
    wasmPath: m.assets.wasm,
    nic: m.assets.nic,
    memoryMiB: m.memoryMiB,
    ...(m.state ? { state: m.state } : {}),
  });
  guest = g;
  const decoder = new FrameDecoder();
  const pump = pumpRings(m.rings, (bytes) => {
    for (const frame of decoder.push(bytes)) g.sendFrame(frame);
  });
  g.onFrame((frame) => pump.receive(encodeFrame(frame)));
  // v86 reports the serial line a byte at a time: one message per turn.
  let out: number[] = [];
  g.onSerial((b) => {
    if (out.push(b) === 1) {
      setTimeout(() => {
        const bytes = Uint8Array.from(out);
        out = [];
        post({ type: 'serial', bytes }, [bytes.buffer]);
      }, 0);
    }
  });
  post({ type: 'booted', restored: m.state !== undefined });
}
