// The page's VM worker for a container2wasm VM image (`?vm=…/out.wasm.gzip`): runs it
// with our startContainer on the rings the mount worker serves, its console on the
// page's terminal through the tty channel. Blocks inside the VM for its whole life, so
// input comes through shared memory and only output uses messages.
import { startContainer, type ContainerInfo } from '../c2w/index.js';
import { ttyClientOf } from './tty-channel.js';

export interface StartVmMessage {
  type: 'start';
  info: ContainerInfo;
  /** Extra arguments for the VM (c2w passes the container's command after its own). */
  args: string[];
  /** The tty channel's input buffer (createTtyInput). */
  ttyInput: SharedArrayBuffer;
}

export type FromVmWorker =
  | { type: 'output'; bytes: Uint8Array }
  | { type: 'log'; message: string }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

const post = (m: FromVmWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

self.addEventListener('message', (ev: MessageEvent<StartVmMessage>) => {
  const m = ev.data;
  if (m.type !== 'start') return;
  const tty = ttyClientOf(m.ttyInput, (bytes) => post({ type: 'output', bytes }, [bytes.buffer]));
  startContainer(m.info, m.args, tty, { logger: { warn: (message) => post({ type: 'log', message }) } }).then(
    (code) => post({ type: 'exit', code }),
    (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
});
