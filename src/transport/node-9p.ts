// Plain 9P over a Node socket (TCP or a Unix socket), for native clients: a Linux kernel
// (`mount -t 9p -o trans=tcp` or `trans=unix`), QEMU's guestfwd, or any 9P tool.
import type { P9Server } from '../../p9/index.js';
import { listenSockets, type Listener, type ListenSpec } from './node-listen.js';

export function listen9p(server: P9Server, spec: ListenSpec, logger?: { warn?(m: string): void }): Promise<Listener> {
  return listenSockets(spec, (socket) => {
    const connection = server.connect(
      (bytes) => void socket.write(bytes),
      (reason) => {
        logger?.warn?.(`9P client ${socket.remoteAddress ?? 'unix'} dropped: ${reason}`);
        socket.destroy();
      },
    );
    socket.on('data', (bytes: Buffer) => connection.receive(bytes));
    socket.on('close', () => connection.end());
  });
}
