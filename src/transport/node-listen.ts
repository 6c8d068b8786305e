// Where Node transports listen: TCP or a Unix socket, one callback per accepted socket.
// Shared by the frame listener (VMs) and the plain 9P listener (native clients).
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';

export type ListenSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface Listener {
  /** `tcp:HOST:PORT` (the real port when 0 was asked) or `unix:PATH`. */
  address: string;
  /** The bound TCP port (0 for Unix sockets). */
  port: number;
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
}

/** `tcp:HOST:PORT` (IPv6 hosts in brackets) or `unix:PATH`. */
export function parseListenSpec(spec: string): ListenSpec {
  const unix = /^unix:(.+)$/.exec(spec);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const tcp = /^tcp:(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (tcp && Number(tcp[2]) <= 65535) return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new Error(`--listen ${JSON.stringify(spec)}: expected tcp:HOST:PORT or unix:PATH`);
}

export async function listenSockets(spec: ListenSpec, onSocket: (socket: Socket) => void): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy()); // a peer that vanishes is not our error
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  if (spec.kind === 'unix') rmSync(spec.path, { force: true }); // a stale socket file from an earlier run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (spec.kind === 'unix') server.listen(spec.path, resolve);
    else server.listen(spec.port, spec.host, resolve);
  });
  const port = spec.kind === 'tcp' ? (server.address() as AddressInfo).port : 0;
  const address = spec.kind === 'unix' ? `unix:${spec.path}` : `tcp:${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${port}`;
  return {
    address,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
