// A gzip decoder that stops after one member the way Chromium's DecompressionStream does,
// for testing the member-restarting path in Node (whose own DecompressionStream decodes
// every member). Measured in Chromium 156: bytes after the member are a TypeError raised
// in the transform that sees them, after it queued that write's output, which the
// TransformStream then drops; input ending early is a TypeError at flush.
import { crc32 } from 'node:zlib';
import pako from 'pako';

const MAGIC = [0x1f, 0x8b, 8];

const invalid = (why: string) => new TypeError(`The compressed data was not valid: ${why}.`);

/** The length of the gzip header `b` starts with, or -1 when `b` ends within it. */
function headerLength(b: Uint8Array): number {
  for (let i = 0; i < Math.min(b.length, 3); i++) if (b[i] !== MAGIC[i]) throw invalid('incorrect header check');
  if (b.length < 10) return -1;
  const flags = b[3]!;
  if (flags & 0xe0) throw invalid('unknown header flags set');
  let n = 10;
  if (flags & 4) n = b.length < 12 ? Infinity : 12 + (b[10]! | (b[11]! << 8));
  for (const bit of [8, 16]) if (flags & bit) n = n > b.length ? Infinity : b.indexOf(0, n) + 1 || Infinity;
  if (flags & 2) n += 2;
  return n <= b.length ? n : -1;
}

/** One member's decoder: `push` each write's bytes, `end` at the end of input. */
function member(enqueue: (c: Uint8Array) => void): { push(b: Uint8Array): void; end(): void } {
  let header: Uint8Array | undefined = new Uint8Array(0); // undefined once parsed
  let inflate: pako.Inflate | undefined;
  let trailer: number[] | undefined; // once the deflate data has ended
  let ended = false;
  let crc = 0;
  let size = 0;
  return {
    push(chunk) {
      if (ended) {
        if (chunk.length > 0) throw new TypeError('Junk found after end of compressed data.');
        return;
      }
      let rest = chunk;
      if (header) {
        const all = new Uint8Array([...header, ...rest]);
        const n = headerLength(all);
        if (n < 0) return void (header = all);
        header = undefined;
        rest = all.subarray(n);
        inflate = new pako.Inflate({ raw: true, chunkSize: 16384 });
        inflate.onData = (c) => {
          const out = c as Uint8Array;
          crc = crc32(out, crc);
          size += out.length;
          enqueue(out);
        };
      }
      if (!trailer) {
        if (rest.length === 0) return;
        inflate!.push(rest, false);
        if (inflate!.err) throw invalid(inflate!.msg);
        if (!(inflate as pako.Inflate & { ended: boolean }).ended) return;
        const left = (inflate as unknown as { strm: { avail_in: number } }).strm.avail_in;
        rest = rest.subarray(rest.length - left);
        trailer = [];
      }
      let k = 0;
      while (trailer.length < 8 && k < rest.length) trailer.push(rest[k++]!);
      if (trailer.length < 8) return;
      const le = (o: number) => (trailer![o]! | (trailer![o + 1]! << 8) | (trailer![o + 2]! << 16) | (trailer![o + 3]! << 24)) >>> 0;
      if (le(0) !== crc) throw invalid('incorrect data check');
      if (le(4) !== size % 2 ** 32) throw invalid('incorrect length check');
      ended = true;
      if (k < rest.length) throw new TypeError('Junk found after end of compressed data.');
    },
    end() {
      if (!ended) throw new TypeError('Compressed input was truncated.');
    },
  };
}

/** Chromium's behaviour: every write decoded as it comes. `seen.errors` counts the errors raised. */
export function strictGunzip(seen?: { errors: number }): TransformStream<Uint8Array, Uint8Array> {
  let m: ReturnType<typeof member>;
  const counted = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (seen) seen.errors++;
      throw e;
    }
  };
  return new TransformStream({
    start: (controller) => void (m = member((c) => controller.enqueue(c))),
    transform: (chunk) => counted(() => m.push(chunk)),
    flush: () => counted(() => m.end()),
  });
}

/** A decoder that reads ahead: each write is decoded only when the next one arrives, so its errors come a write late. */
export function laggingStrictGunzip(): TransformStream<Uint8Array, Uint8Array> {
  let m: ReturnType<typeof member>;
  let held: Uint8Array | undefined;
  return new TransformStream({
    start: (controller) => void (m = member((c) => controller.enqueue(c))),
    transform(chunk) {
      if (held) m.push(held);
      held = chunk;
    },
    flush() {
      if (held) m.push(held);
      m.end();
    },
  });
}
