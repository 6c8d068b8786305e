// Node edge: accepts the VM side of the QEMU frame stream on TCP or a Unix socket —
// `qemu -netdev socket,connect=HOST:PORT`, `-netdev stream,server=off,addr.type=inet|unix,…`
// or a c2w WASI VM run with `--net=socket`. Bytes only; framing is src/net's job.
import { frameLinkOverBytes, type FrameLink } from '../net/link.js';
import { listenSockets, type Listener, type ListenSpec } from './node-listen.js';

export type FrameListenSpec = ListenSpec;
export type FrameListener = Listener;

/** Listens; every VM that connects becomes one FrameLink handed to `onLink`. */
export function listenFrames(spec: ListenSpec, onLink: (link: FrameLink) => void): Promise<Listener> {
  return listenSockets(spec, (socket) => {
    // Frames the stack sends while handling one chunk from the VM (an ACK burst releasing
    // a window of data) go out in one socket.write at the end of the tick: one buffer, one
    // syscall, instead of one allocation + copy + write per frame.
    const stream = frameLinkOverBytes(
      (bytes) => void socket.write(bytes),
      () => socket.destroy(),
      { schedule: (flush) => process.nextTick(flush) },
    );
    socket.on('data', (bytes: Buffer) => stream.receive(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
    socket.on('close', () => stream.end('VM disconnected'));
    onLink(stream.link);
  });
}
