// A bad wire between QEMU and `imagemounter serve`: a TCP proxy that understands the
// QEMU frame stream (each Ethernet frame preceded by its length, 4 bytes big-endian) and,
// in both directions, drops a share of frames and swaps some adjacent pairs, from a
// seeded PRNG so a failing run can be replayed. Only TCP's own recovery (ours towards
// the guest, Linux's towards us) can then deliver a file intact. The parser is written
// here on purpose rather than taken from src/net: the proxy must not share its bugs.
import { connect, createServer, type Socket } from 'node:net';
import { rng } from '../net/helpers.js';

export interface LossyProxyOptions {
  /** Where `imagemounter serve` listens. */
  target: { host: string; port: number };
  /** Share of frames dropped, per direction (0.03 = 3 %). */
  dropRate: number;
  /** Share of frames held back and sent after the next one. */
  swapRate: number;
  seed: number;
}

export interface DirectionStats {
  frames: number;
  dropped: number;
  swapped: number;
}

export interface LossyProxy {
  port: number;
  /** `toServe`: frames QEMU sent (the guest's); `toGuest`: frames serve sent. */
  stats: { toServe: DirectionStats; toGuest: DirectionStats };
  close(): Promise<void>;
}

/** A held frame that no successor comes for is sent after this long, so a quiet link does not keep it. */
const HOLD_MS = 20;

/** One direction: reassembles frames from `src`, mangles them, writes the survivors to `dst`. */
function mangle(src: Socket, dst: Socket, stats: DirectionStats, random: () => number, o: LossyProxyOptions): void {
  let pending: Buffer = Buffer.alloc(0);
  let held: Buffer | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  const flushHeld = () => {
    clearTimeout(holdTimer);
    holdTimer = undefined;
    if (held && !dst.destroyed) dst.write(held);
    held = undefined;
  };
  src.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    while (pending.length - at >= 4) {
      const end = at + 4 + pending.readUInt32BE(at);
      if (end > pending.length) break;
      const frame = pending.subarray(at, end); // length prefix included: forwarded as is
      at = end;
      stats.frames++;
      const r = random();
      if (r < o.dropRate) {
        stats.dropped++;
      } else if (held) {
        // The frame after a held one goes first: that is the swap.
        out.push(frame, held);
        held = undefined;
        clearTimeout(holdTimer);
      } else if (r < o.dropRate + o.swapRate) {
        stats.swapped++;
        held = Buffer.from(frame); // copied: `pending` is replaced below
        holdTimer = setTimeout(flushHeld, HOLD_MS);
      } else {
        out.push(frame);
      }
    }
    pending = Buffer.from(pending.subarray(at));
    if (out.length && !dst.destroyed && !dst.write(Buffer.concat(out))) {
      // Backpressure both ways, as a real wire would have it: stop reading until drained.
      src.pause();
      dst.once('drain', () => src.resume());
    }
  });
  src.on('end', () => (flushHeld(), dst.end()));
}

export async function startLossyProxy(o: LossyProxyOptions): Promise<LossyProxy> {
  const stats = { toServe: { frames: 0, dropped: 0, swapped: 0 }, toGuest: { frames: 0, dropped: 0, swapped: 0 } };
  const sockets = new Set<Socket>();
  // One stream per direction, derived from the seed, so each is replayable on its own.
  const toServeRandom = rng(o.seed);
  const toGuestRandom = rng(o.seed ^ 0x5bd1e995);
  const server = createServer({ noDelay: true }, (guest) => {
    const serve = connect({ host: o.target.host, port: o.target.port, noDelay: true });
    for (const s of [guest, serve]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // Either side going away ends the other: QEMU sees its network vanish, serve its VM.
      s.on('error', () => (guest.destroy(), serve.destroy()));
    }
    guest.on('close', () => serve.destroy());
    serve.on('close', () => guest.destroy());
    mangle(guest, serve, stats.toServe, toServeRandom, o);
    mangle(serve, guest, stats.toGuest, toGuestRandom, o);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
