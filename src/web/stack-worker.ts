// The stack worker: container2wasm's `stack-worker.js` role. The page starts it with
// the image and c2w's SharedArrayBuffer rings; it mounts the image (mountImage) and
// serves the VM's network on the rings (attachRings). Thin by design: everything it
// does is mountImage's. Messages in: `start`, `stop`; out: `progress`, `layer`, `log`,
// `ready`, `error`, `closed`.
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
  | { type: 'stop' };

export type FromStackWorker =
  | { type: 'progress'; digest: string; loaded: number; total: number }
  | { type: 'layer'; index: number; digest: string; entries: number; bytes: number; lazy: boolean }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'ready'; manifestDigest: string; layers: number }
  | { type: 'error'; message: string }
  | { type: 'closed'; reason: string };

interface WorkerScope {
  onmessage: ((ev: { data: ToStackWorker }) => void) | null;
  postMessage(m: FromStackWorker): void;
}

const scope = self as unknown as WorkerScope;
const post = (m: FromStackWorker) => scope.postMessage(m);
let session: MountedImageSession | undefined;
let started = false;

scope.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === 'start') void start(m);
  else if (m.type === 'stop') session?.close();
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
    // no such proxy, so it gets an empty one, marked complete.
    void writeMeta(m.rings, new Uint8Array(0));
    const { image } = session.mounted;
    post({ type: 'ready', manifestDigest: image.manifestDigest, layers: image.layers.length });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}
