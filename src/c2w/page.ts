// The page's half of container2wasm's browser API: `createContainerWASI(vmImage,
// imageAddr, stackWorkerURL)` starts our stack worker (src/web/stack-worker.ts) on a
// fresh set of c2w rings and resolves, once the image is mounted and the certificate is
// in metaFromNet, with the `info` c2w's VM worker expects. Main thread: never blocks.
import { createRingBuffers, vmRingEndpoint, type RingBuffers } from '../transport/rings.js';
import type { FromStackWorker, StackWorkerOptions, ToStackWorker } from '../web/stack-worker.js';
import type { ContainerInfo } from './vm-worker.js';

export interface ContainerStackOptions {
  /** Platform of the image to mount, e.g. `linux/riscv64`; the stack's default otherwise. */
  platform?: string;
  /** URL of an `imagemounter cors-proxy` for registries without CORS headers. */
  proxy?: string;
  /** More pull options for the stack worker. */
  stackOptions?: Omit<StackWorkerOptions, 'proxy'>;
  /** Every message of the stack worker (progress, layers, logs, ready, errors). */
  onMessage?: (m: FromStackWorker) => void;
}

export interface StartedStack {
  worker: Worker;
  rings: RingBuffers;
  /** The proxy certificate, once the stack has mounted the image and written it. */
  cert: Promise<Uint8Array>;
}

const CERT_POLL_MS = 10;

/** Starts the stack worker on new rings; shared by the WASI and the QEMU entry points. */
export function startStackWorker(imageAddr: string, stackWorkerURL: string | URL, opts: ContainerStackOptions = {}): StartedStack {
  const rings = createRingBuffers();
  const worker = new Worker(stackWorkerURL, { type: 'module' });
  let failed: Error | undefined;
  worker.addEventListener('message', (ev: MessageEvent<FromStackWorker>) => {
    if (ev.data?.type === 'error') failed ??= new Error(`stack worker: ${ev.data.message}`);
    opts.onMessage?.(ev.data);
  });
  worker.addEventListener('error', (ev) => {
    failed ??= new Error(`stack worker ${String(stackWorkerURL)} failed: ${ev.message || 'could not load it'}`);
  });
  const options: StackWorkerOptions = { ...opts.stackOptions, ...(opts.proxy ? { proxy: opts.proxy } : {}) };
  const start: ToStackWorker = { type: 'start', image: imageAddr, rings, ...(opts.platform ? { platform: opts.platform } : {}), options };
  worker.postMessage(start);

  // c2w's page learns the certificate from a `send_cert` message; we read it where the
  // VM would, in metaFromNet, which also proves the rings are the ones the stack uses.
  // Polled with timers: the main thread may not Atomics.wait.
  const vm = vmRingEndpoint(rings);
  const cert = new Promise<Uint8Array>((resolve, reject) => {
    const parts: Uint8Array[] = [];
    const step = () => {
      if (failed) return reject(failed);
      const { bytes, done } = vm.receiveMeta();
      if (bytes.length > 0) parts.push(bytes);
      if (!done) return void setTimeout(step, CERT_POLL_MS);
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) all.set(p, (off += p.length) - p.length);
      resolve(all);
    };
    step();
  });
  return { worker, rings, cert };
}

const stacks = new WeakMap<object, Worker>();

/**
 * c2w's createContainerWASI. `mounterURL` (c2w's imagemounter.wasm) is accepted so c2w
 * pages keep their call, and ignored: our stack worker bundle is the mounter.
 */
export async function createContainerWASI(
  vmImage: string,
  imageAddr: string,
  stackWorkerURL: string | URL,
  _mounterURL?: string,
  opts: ContainerStackOptions = {},
): Promise<ContainerInfo> {
  const { worker, rings, cert } = startStackWorker(imageAddr, stackWorkerURL, opts);
  try {
    const info: ContainerInfo = { vmImage, net: { toNet: rings.toNet, fromNet: rings.fromNet, metaFromNet: rings.metaFromNet }, cert: await cert };
    stacks.set(info, worker);
    return info;
  } catch (e) {
    worker.terminate();
    throw e;
  }
}

/** Stops the stack worker behind `info` (from createContainerWASI); the VM's network goes away. */
export function stopContainerStack(info: ContainerInfo): void {
  const worker = stacks.get(info);
  if (!worker) return;
  stacks.delete(info);
  worker.terminate();
}
