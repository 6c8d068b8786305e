// The in-page WebSocket endpoint of an emscripten (QEMU-wasm) c2w VM. Its emscripten
// runtime opens `new WebSocket(Module.websocket.url)` for QEMU's `-netdev socket`; the
// page answers that socket itself with msw's `ws.link` and moves the bytes to and from
// c2w's rings (pumpRings), where our stack worker serves them.
//
// No service worker is involved: msw intercepts WebSocket by replacing the page's
// `WebSocket` class (its WebSocketInterceptor), and a service worker only serves HTTP.
// `setupWorker().start()` would register /mockServiceWorker.js anyway, so we build the
// network from its parts (msw/experimental's defineNetwork + InterceptorSource), which
// also runs in Node for tests. Other WebSockets of the page pass through untouched.
//
// msw is loaded on first use (dynamic import): its modules have top-level side effects
// (a cookie store that needs localStorage) that would break every worker bundling the
// library entry, and most pages never serve an emscripten VM.
import type { InterceptorSource } from 'msw/experimental';
import type { RingBuffers } from '../transport/rings.js';
import { pumpRings, type RingPump, type RingPumpOptions } from './ring-pump.js';

export const C2W_WS_URL = 'ws://localhost:9999';

export interface WebSocketLinkStats {
  /** Connections served (c2w's QEMU opens one). */
  connections: number;
  /** Connections refused because one was already open. */
  rejected: number;
  /** Bytes VM → toNet and fromNet → VM, and toNet-full retries, summed over connections. */
  toNet: number;
  fromNet: number;
  fullRetries: number;
}

export interface WebSocketLinkServer {
  /** Restores the page's WebSocket, closes the open connection and stops the pump. */
  close(): void;
  readonly stats: WebSocketLinkStats;
}

export interface WebSocketLinkOptions {
  logger?: { info?(message: string): void; warn(message: string): void };
  pump?: RingPumpOptions;
}

type Data = string | ArrayBuffer | ArrayBufferView | Blob;
const toBytes = (d: Exclude<Data, Blob>): Uint8Array =>
  typeof d === 'string' ? new TextEncoder().encode(d) : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
type Interceptor = ConstructorParameters<typeof InterceptorSource>[0]['interceptors'][number];

/** Serves `url` inside this page (or Node process) as the VM's end of `rings`; resolves once it serves. */
export async function serveStackOnWebSocketLink(rings: RingBuffers, url: string = C2W_WS_URL, opts: WebSocketLinkOptions = {}): Promise<WebSocketLinkServer> {
  const { WebSocketInterceptor, ws, defineNetwork, InterceptorSource } = await import('./msw-parts.js');
  const done = { toNet: 0, fromNet: 0, fullRetries: 0 };
  const counts = { connections: 0, rejected: 0 };
  let current: { pump: RingPump; close(): void } | undefined;
  const link = ws.link(url);
  const handler = link.addEventListener('connection', ({ client }) => {
    if (current) {
      counts.rejected++;
      opts.logger?.warn(`${url}: refused a second connection (${client.url}); the VM's network takes one at a time`);
      client.close(4000, 'one connection at a time');
      return;
    }
    counts.connections++;
    // emscripten reads `new Uint8Array(event.data)`: an ArrayBuffer of exactly the bytes.
    const pump = pumpRings(rings, (b) => client.send(b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : b.slice().buffer), opts.pump);
    // A Blob has to be read asynchronously; later messages queue behind it so the
    // stream stays in order. Without a Blob in the way, bytes go through synchronously.
    const queue: Data[] = [];
    let draining = false;
    const drain = async () => {
      draining = true;
      while (queue.length > 0) {
        const d = queue.shift()!;
        pump.receive(d instanceof Blob ? new Uint8Array(await d.arrayBuffer()) : toBytes(d));
      }
      draining = false;
    };
    const take = (data: Data) => {
      queue.push(data);
      if (!draining) void drain();
    };
    client.addEventListener('message', (ev) => take(ev.data as Data));
    const conn = {
      pump,
      close() {
        if (current !== conn) return;
        current = undefined;
        done.toNet += pump.stats.toNet;
        done.fromNet += pump.stats.fromNet;
        done.fullRetries += pump.stats.fullRetries;
        pump.close();
      },
    };
    current = conn;
    client.addEventListener('close', () => conn.close());
    opts.logger?.info?.(`${url}: VM connected`);
  });
  const network = defineNetwork({
    // The cast bridges two declaration files of the same class (msw's and ours resolve
    // @mswjs/interceptors through different entry points); msw casts the same way.
    sources: [new InterceptorSource({ interceptors: [new WebSocketInterceptor() as unknown as Interceptor] })],
    handlers: [handler],
    onUnhandledFrame: 'bypass',
    // msw logs every frame of a handled WebSocket to the console by default.
    context: { quiet: true },
  });
  await network.enable();
  let closed = false;

  return {
    close() {
      if (closed) return;
      closed = true;
      current?.close();
      for (const client of link.clients) client.close(1000, 'closed by the page');
      void network.disable();
    },
    get stats(): WebSocketLinkStats {
      const live = current?.pump.stats ?? { toNet: 0, fromNet: 0, fullRetries: 0 };
      return { ...counts, toNet: done.toNet + live.toNet, fromNet: done.fromNet + live.fromNet, fullRetries: done.fullRetries + live.fullRetries };
    },
  };
}
