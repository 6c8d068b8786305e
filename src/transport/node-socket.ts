// Node edge: accepts the VM side of the QEMU frame stream on TCP or a Unix socket —
// `qemu -netdev socket,connect=HOST:PORT`, `-netdev stream,server=off,addr.type=inet|unix,…`
// or a c2w WASI VM run with `--net=socket`. Bytes only; framing is src/net's job.

import { rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { frameLinkOverBytes, type FrameLink } from '../net/link.js';

export type FrameListenSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface FrameListener {
  /** `tcp:HOST:PORT` (the real port when 0 was asked) or `unix:PATH`. */
  address: string;
  /** The bound TCP port (0 for Unix sockets). */
  port: number;
  close(): Promise<void>;
}

/** Listens; every VM that connects becomes one FrameLink handed to `onLink`. */
export async function listenFrames(spec: FrameListenSpec, onLink: (link: FrameLink) => void): Promise<FrameListener> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const stream = frameLinkOverBytes(
      (bytes) => void socket.write(bytes),
      () => socket.destroy(),
    );
    socket.on('data', (bytes: Buffer) => stream.receive(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
    socket.on('error', () => socket.destroy()); // a VM that vanishes is not our error
    socket.on('close', () => {
      sockets.delete(socket);
      stream.end('VM disconnected');
    });
    onLink(stream.link);
  });
  if (spec.kind === 'unix') rmSync(spec.path, { force: true }); // a stale socket file from an earlier run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (spec.kind === 'unix') server.listen(spec.path, resolve);
    else server.listen(spec.port, spec.host, resolve);
  });
  const port = spec.kind === 'tcp' ? (server.address() as AddressInfo).port : 0;
  const host = spec.kind === 'tcp' && spec.host.includes(':') ? `[${spec.host}]` : spec.kind === 'tcp' ? spec.host : '';
  return {
    address: spec.kind === 'unix' ? `unix:${spec.path}` : `tcp:${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
