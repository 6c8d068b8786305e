// The stack worker: container2wasm's `stack-worker.js` role. The page starts it with
// the image and c2w's SharedArrayBuffer rings; it mounts the image (mountImage) and
// serves the VM's network on the rings (attachRings). Thin by design: everything it
// does is mountImage's. Messages in: `start`, `stop`, and c2w's own `init` (so c2w's
// unchanged runcontainer.js can drive this worker); out: `progress`, `layer`, `log`,
// `ready`, `error`, `closed`, and c2w's `send_cert`.
import { mountImage, writeMeta, type MountedImageSession, type RingBuffers } from '../index.js';

/** Structured-cloneable subset of the pull options. */
export interface StackWorkerOptions {
  /** URL of an `imagemounter cors-proxy`. */
  proxy?: string;
  retries?: number;
  retryDelayMs?: number;
  lazy?: boolean;
}

export type ToStackWorker =
  | { type: 'start'; image: string; platform?: string; rings: RingBuffers; options?: StackWorkerOptions }
  /**
   * c2w's runcontainer.js start message: its rings under other names. Its other fields
   * (`buf`, c2w's HTTP-proxy channel; `mounterWasmURL`) have no use here.
   */
  | { type: 'init'; toBuf: SharedArrayBuffer; fromBuf: SharedArrayBuffer; metaFromBuf: SharedArrayBuffer; imageAddr: string }
  | { type: 'stop' };

export type FromStackWorker =
  | { type: 'progress'; digest: string; loaded: number; total: number }
  | { type: 'layer'; index: number; digest: string; entries: number; bytes: number; lazy: boolean }
  | { type: 'log'; level: 'info' | 'warn'; message: string; /** c2w's name for it, after `init` only */ msg?: string }
  | { type: 'ready'; manifestDigest: string; layers: number }
  | { type: 'error'; message: string }
  | { type: 'closed'; reason: string }
  /** c2w's page takes the proxy certificate from this message (ours reads metaFromNet). */
  | { type: 'send_cert'; buf: Uint8Array };

interface WorkerScope {
  onmessage: ((ev: { data: ToStackWorker }) => void) | null;
  postMessage(m: FromStackWorker): void;
}

const scope = self as unknown as WorkerScope;
let session: MountedImageSession | undefined;
let started = false;
// Driven by c2w's runcontainer.js (`init`): its page prints every message type it does
// not know, and takes a log line from `msg`; progress is left out and logs carry both.
let c2wPage = false;
const post = (m: FromStackWorker) => {
  if (!c2wPage) return scope.postMessage(m);
  if (m.type === 'progress' || m.type === 'layer') return;
  scope.postMessage(m.type === 'log' ? { ...m, msg: m.message } : m);
};

scope.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === 'start') void start(m);
  else if (m.type === 'init') {
    c2wPage = true;
    const rings = { toNet: m.toBuf, fromNet: m.fromBuf, metaFromNet: m.metaFromBuf };
    if (m.imageAddr) void start({ type: 'start', image: m.imageAddr, rings });
    else {
      // c2w runs a VM without an external image this way (its own rootfs, no 9P); the
      // page still waits for the certificate before it starts the VM.
      post({ type: 'log', level: 'warn', message: 'no image given: the VM gets no network from this worker' });
      void sendEmptyCert(rings);
    }
  } else if (m.type === 'stop') session?.close();
};

async function start(m: Extract<ToStackWorker, { type: 'start' }>): Promise<void> {
  if (started) return post({ type: 'error', message: 'stack worker already started' });
  started = true;
  try {
    session = await mountImage({
      ...m.options,
      image: m.image,
      ...(m.platform ? { platform: m.platform } : {}),
      logger: {
        info: (message) => post({ type: 'log', level: 'info', message }),
        warn: (message) => post({ type: 'log', level: 'warn', message }),
      },
      onProgress: (p) => post({ type: 'progress', digest: p.digest, loaded: p.loaded, total: p.total }),
      onLayer: (l) => post({ type: 'layer', index: l.index, digest: l.digest, entries: l.entries, bytes: l.bytes, lazy: l.lazy === true }),
    });
    session.attachRings(m.rings, { onClose: (reason) => post({ type: 'closed', reason }) });
    // c2w's VM worker waits on metaFromNet for its HTTPS proxy's CA certificate. We run
    // no such proxy, so it gets an empty one, marked complete (and c2w's page, which
    // waits for `send_cert` instead, gets the same).
    void sendEmptyCert(m.rings);
    const { image } = session.mounted;
    post({ type: 'ready', manifestDigest: image.manifestDigest, layers: image.layers.length });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}

async function sendEmptyCert(rings: RingBuffers): Promise<void> {
  const cert = new Uint8Array(0);
  await writeMeta(rings, cert);
  post({ type: 'send_cert', buf: cert });
}
