// Plain 9P over a Node socket (TCP or a Unix socket), for native clients: a Linux kernel
// (`mount -t 9p -o trans=tcp` or `trans=unix`), QEMU's guestfwd, or any 9P tool.
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { P9Server } from '../../p9/index.js';

export interface P9Listener {
  /** `tcp:HOST:PORT` (the actual port when 0 was asked) or `unix:PATH`. */
  address: string;
  close(): Promise<void>;
}

export type ListenSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListenSpec(spec: string): ListenSpec {
  const unix = /^unix:(.+)$/.exec(spec);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const tcp = /^tcp:(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (tcp && Number(tcp[2]) <= 65535) return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new Error(`--listen ${JSON.stringify(spec)}: expected tcp:HOST:PORT or unix:PATH`);
}

export async function listen9p(server: P9Server, spec: ListenSpec, logger?: { warn?(m: string): void }): Promise<P9Listener> {
  const sockets = new Set<Socket>();
  const net = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const connection = server.connect(
      (bytes) => void socket.write(bytes),
      (reason) => {
        logger?.warn?.(`9P client ${socket.remoteAddress ?? 'unix'} dropped: ${reason}`);
        socket.destroy();
      },
    );
    socket.on('data', (bytes: Buffer) => connection.receive(bytes));
    socket.on('error', () => socket.destroy()); // a reset client is not our error
    socket.on('close', () => {
      sockets.delete(socket);
      connection.end();
    });
  });
  if (spec.kind === 'unix') rmSync(spec.path, { force: true }); // a stale socket file from an earlier run
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    if (spec.kind === 'unix') net.listen(spec.path, resolve);
    else net.listen(spec.port, spec.host, resolve);
  });
  const address =
    spec.kind === 'unix' ? `unix:${spec.path}` : `tcp:${formatHost(spec.host)}:${(net.address() as AddressInfo).port}`;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        net.close(() => resolve());
      }),
  };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
