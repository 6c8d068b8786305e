// The VM worker's half of container2wasm's browser API: `startContainer(info, args,
// ttyClient)` runs a c2w WASI VM image with browser_wasi_shim, its network on the rings
// the page's createContainerWASI made, its console through a TtyClient. Call it in a
// dedicated worker: the VM blocks (Atomics.wait) while it waits for input.
import { File, PreopenDirectory, WASI, type Fd } from '@bjorn3/browser_wasi_shim';
import type { RingBuffers } from '../transport/rings.js';
import { CERT_DIR, CONN_FD, LISTEN_FD, PROXY_ENV, vmArgs } from './container-env.js';
import { ringSocket, type VmSocketStats } from './vm-socket.js';
import { patchSocketImports } from './wasi-socket.js';
import { patchTtyImports, type TtyClient } from './wasi-tty.js';

/** What createContainerWASI hands to the VM worker (structured-cloneable, c2w's shape). */
export interface ContainerInfo {
  /** URL of the VM image (`out.wasm`, gzip-compressed or not). */
  vmImage: string;
  net: RingBuffers;
  /** The proxy's CA certificate (empty: our stack runs no TLS-intercepting proxy). */
  cert: Uint8Array;
}

export interface StartContainerOptions {
  fetch?: typeof fetch;
  /** Environment of the VM; c2w's proxy variables by default. */
  env?: string[];
  logger?: { warn(message: string): void };
  /** Counters of the VM's socket, filled while it runs. */
  onSocket?: (stats: VmSocketStats) => void;
}

/**
 * Fetches `info.vmImage`, instantiates it and runs it to completion; resolves with its
 * exit code. c2w's startContainer returns nothing and runs in the background; callers
 * that ignore the promise see the same behaviour.
 */
export async function startContainer(info: ContainerInfo, args: string[], ttyClient: TtyClient, opts: StartContainerOptions = {}): Promise<number> {
  const wasm = await fetchVmImage(info.vmImage, opts.fetch ?? fetch);
  const certDir = new PreopenDirectory(CERT_DIR, new Map([['proxy.crt', new File(info.cert)]]));
  // Fixed fd numbers the VM's argv relies on: 3 is the certificate directory (the first
  // preopen), LISTEN_FD and CONN_FD are reserved for the socket (answered by the
  // patches, so left empty here); files the VM opens get 6 and up.
  const fds: (Fd | undefined)[] = [undefined, undefined, undefined, certDir, undefined, undefined];
  const wasi = new WASI(vmArgs(args), opts.env ?? [...PROXY_ENV], fds as Fd[]);
  const memory = () => wasi.inst.exports.memory;
  const socket = ringSocket(info.net, {
    onStall: (ms) => opts.logger?.warn(`VM network: toNet has had no room for ${Math.round(ms)} ms; is the stack worker running?`),
  });
  opts.onSocket?.(socket.stats);
  const sock = patchSocketImports(wasi.wasiImport, { memory, socket, listenFd: LISTEN_FD, connFd: CONN_FD, ...(opts.logger ? { logger: opts.logger } : {}) });
  patchTtyImports(wasi.wasiImport, {
    memory,
    tty: ttyClient,
    socket: { fd: CONN_FD, connected: () => sock.connected, readable: () => socket.readable(), waitReadable: (ms) => socket.waitReadable(ms) },
  });
  const { instance } = await WebAssembly.instantiate(wasm, { wasi_snapshot_preview1: wasi.wasiImport });
  return wasi.start(instance as unknown as Parameters<WASI['start']>[0]);
}

/**
 * c2w serves its VM images gzip-compressed (`out.wasm.gzip`) and always gunzips. We
 * gunzip when the bytes are gzip; a `.gz`/`.gzip` URL whose bytes are already wasm was
 * decoded on the way (the server sent Content-Encoding: gzip), so it is taken as is.
 */
export async function fetchVmImage(url: string, fetchFn: typeof fetch): Promise<Uint8Array<ArrayBuffer>> {
  const resp = await fetchFn(url, { credentials: 'same-origin' });
  if (!resp.ok) throw new Error(`fetching the VM image ${url}: HTTP ${resp.status} ${resp.statusText}`);
  const bytes = new Uint8Array(await resp.arrayBuffer());
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const isWasm = bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  const gzName = /\.gz(ip)?$/i.test(url.split(/[?#]/)[0]!);
  if (!isGzip && (isWasm || !gzName)) return bytes;
  const out = new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')));
  return new Uint8Array(await out.arrayBuffer());
}
