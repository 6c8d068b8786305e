// The network a VM sees: our user-space stack, whose TCP connections to
// 192.168.127.252:80 each speak 9P with the image's tree. Transport-free, so a Node
// socket, SharedArrayBuffer rings or a WebSocket can carry its frames.
import { NetStack, type NetStackOptions } from './net/index.js';
import { P9Server, type P9FileSystem, type P9ServerOptions } from '../p9/index.js';

export interface ImageNetworkOptions extends Omit<NetStackOptions, 'onTcpConnection'> {
  p9?: P9ServerOptions;
}

export function createImageNetwork(fs: P9FileSystem, opts: ImageNetworkOptions = {}): NetStack {
  const server = new P9Server(fs, opts.p9 ?? (opts.logger ? { logger: opts.logger } : {}));
  return new NetStack({
    ...opts,
    onTcpConnection(tcp) {
      const p9 = server.connect(
        (reply) => {
          // Replies pile up when the VM reads slowly: stop taking its requests until the
          // send queue drains, so memory stays bounded and nothing is dropped.
          if (!tcp.write(reply)) tcp.setReceiving(false);
        },
        (reason) => {
          opts.logger?.warn?.(`9P connection from ${tcp.remote} dropped: ${reason}`);
          tcp.close();
        },
      );
      tcp.onDrain = () => tcp.setReceiving(true);
      tcp.onData = (bytes) => p9.receive(bytes);
      tcp.onClose = () => p9.end();
    },
  });
}
