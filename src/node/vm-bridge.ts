// Lets a native VM use the mounter running in a browser page: QEMU's NIC connects to a
// TCP (or unix) socket here (`-netdev stream` / `-netdev socket,connect=`), the page
// connects a WebSocket (`?vm=ws://HOST:PORT`), and the QEMU-framed byte stream is copied
// both ways unchanged, each direction's chunks as they come (framing is the page's
// business). One VM and one page at a time; when either goes, the other is closed.
// A VM that connects before the page is paused (not read) until the page arrives, so
// nothing it sends is lost or buffered without bound.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ListenSpec } from '../transport/index.js';

export interface VmBridgeOptions {
  /** Where the VM's NIC connects. */
  vm: ListenSpec;
  /** WebSocket host and port (0 picks one). */
  wsHost?: string;
  wsPort?: number;
  logger?: { info?(m: string): void; warn?(m: string): void };
}

export interface VmBridgeStats {
  /** Bytes VM → page. */
  toPage: number;
  /** Bytes page → VM. */
  toVm: number;
  /** VM/page pairs served. */
  sessions: number;
}

export interface VmBridge {
  /** `tcp:HOST:PORT` or `unix:PATH` for the VM. */
  vmAddress: string;
  /** `ws://HOST:PORT` for the page's `?vm=`. */
  wsUrl: string;
  stats: VmBridgeStats;
  close(): Promise<void>;
}

export async function startVmBridge(opts: VmBridgeOptions): Promise<VmBridge> {
  const stats: VmBridgeStats = { toPage: 0, toVm: 0, sessions: 0 };
  let vm: Socket | undefined;
  let page: WebSocket | undefined;

  const pair = () => {
    if (!vm || !page) return;
    const v = vm;
    const p = page;
    stats.sessions++;
    opts.logger?.info?.('vm-bridge: VM and page connected');
    v.on('data', (b: Buffer) => {
      stats.toPage += b.length;
      p.send(b);
      // Backpressure: stop reading the VM while the page's socket is behind.
      if (p.bufferedAmount > 4 << 20) {
        v.pause();
        const wait = setInterval(() => {
          if (p.bufferedAmount < 1 << 20 || p.readyState !== p.OPEN) {
            clearInterval(wait);
            v.resume();
          }
        }, 5);
      }
    });
    p.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return void opts.logger?.warn?.('vm-bridge: ignoring a text message from the page');
      stats.toVm += data.length;
      v.write(data);
    });
    v.resume();
  };

  const vmServer: Server = createServer((s) => {
    if (vm) {
      opts.logger?.warn?.('vm-bridge: a second VM connected; refused (one at a time)');
      return void s.destroy();
    }
    vm = s;
    s.setNoDelay(true);
    s.pause();
    s.on('error', (e) => opts.logger?.warn?.(`vm-bridge: VM socket: ${e.message}`));
    s.on('close', () => {
      vm = undefined;
      page?.close(1000, 'VM disconnected');
    });
    pair();
  });
  await new Promise<void>((ok, fail) => {
    vmServer.once('error', fail);
    if (opts.vm.kind === 'tcp') vmServer.listen(opts.vm.port, opts.vm.host, ok);
    else vmServer.listen(opts.vm.path, ok);
  });

  const wss = new WebSocketServer({ host: opts.wsHost ?? '127.0.0.1', port: opts.wsPort ?? 0, maxPayload: 16 << 20 });
  await new Promise<void>((ok, fail) => {
    wss.once('listening', ok);
    wss.once('error', fail);
  });
  wss.on('connection', (ws) => {
    if (page) {
      opts.logger?.warn?.('vm-bridge: a second page connected; refused (one at a time)');
      return void ws.close(1013, 'another page is connected');
    }
    page = ws;
    ws.on('error', (e) => opts.logger?.warn?.(`vm-bridge: page socket: ${e.message}`));
    ws.on('close', () => {
      page = undefined;
      vm?.destroy();
    });
    pair();
  });

  const a = vmServer.address();
  const vmAddress = typeof a === 'string' ? `unix:${a}` : `tcp:${(a as AddressInfo).address}:${(a as AddressInfo).port}`;
  const w = wss.address() as AddressInfo;
  return {
    vmAddress,
    wsUrl: `ws://${w.address.includes(':') ? `[${w.address}]` : w.address}:${w.port}`,
    stats,
    async close() {
      vm?.destroy();
      page?.terminate();
      await Promise.all([
        new Promise<void>((ok) => vmServer.close(() => ok())),
        new Promise<void>((ok) => wss.close(() => ok())),
      ]);
    },
  };
}
