// gzip where the platform's DecompressionStream stops after the first member (Chromium,
// Firefox): each member gets its own native decoder. eStargz layers are thousands of
// members; ordinary layers are one, and pay only a scan for member starts.
import type { GzipDecoder } from './decompress.js';
import { ImageError, errorMessage } from './errors.js';

/**
 * Input kept for finding a member's end once its decoder has complained about what
 * follows: what was written since the member began, less whatever lies both ≥ 1 MiB and
 * 4 writes back (or 1024 writes), so a 1 GiB single-member layer holds 1 MiB and a few
 * chunks, not 1 GiB. The native decoders raise the error while transforming the write that
 * starts right after the member's end, so its trailer is in the last two writes; the rest
 * is margin for decoders that read ahead.
 */
const WINDOW_BYTES = 1 << 20;
const WINDOW_MIN_WRITES = 4;
const WINDOW_MAX_WRITES = 1024;
/**
 * Output of a member whose CRC-32 we compute. All of it would cost 12–25% of Chromium's
 * inflate time (measured), so a larger member's end is found after the decoder's error, by
 * ISIZE and the next member's magic alone: the decoder checked the CRC itself before
 * reporting the end, output lost between it and us would change the length, and 7 given
 * bytes turning up by chance in the ≤ 1 MiB searched has odds of about 2^-36 per member.
 */
const CRC_BYTES = 1 << 20;
const GZIP_MAGIC = [0x1f, 0x8b, 8];
const EMPTY = new Uint8Array(0);

/**
 * gzip through native decoders that decode one member and error on anything after it
 * (Chromium: "Junk found after end of compressed data."; the wording is not relied on).
 * After an error, the member's end is where the input holds its trailer (ISIZE, the length
 * of the output we got, and for small members CRC-32) followed by another member's magic;
 * a fresh decoder continues from there. An error with no such place is the data's fault
 * (corrupt, truncated, garbage after the last member).
 *
 * Every place a member may start (its magic, or a prefix of it at a chunk's end) begins a
 * write: a decoder erroring within a write drops the output it queued for it (the
 * TransformStream resets its queue; Chromium lost 170 KiB of 300 KiB that way), so a member
 * must end with a write and the next write fail before producing anything. The member's
 * output has been read by then: a TransformStream runs a transform only once the output
 * before it has been read (its readable's queue is empty and a read waits).
 *
 * Small members (eStargz: thousands a layer) end without an error, which costs Chromium 156
 * 0.6–0.8 ms (measured), several times the decoding of a small file: before writing a
 * possible member start, an empty write lets all output before it be counted; a matching
 * CRC-32 and ISIZE says the member ended there, and closing its decoder without complaint
 * confirms it.
 */
export function memberGzip(stream: ReadableStream<Uint8Array>, make: () => GzipDecoder): ReadableStream<Uint8Array> {
  const source = stream.getReader();
  let pending: Uint8Array[] = []; // read from the source, not yet written to the current decoder
  let fed: Uint8Array[] = []; // written to it since its member began (the window above)
  let fedBytes = 0;
  let size = 0; // the current member's output so far, and its CRC-32 while size < CRC_BYTES
  let crc = 0;
  let crcBytes = 0;
  let sourceError: { e: unknown } | undefined;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  const readSource = async () => {
    try {
      const { done, value } = await source.read();
      return done ? undefined : value;
    } catch (e) {
      sourceError = { e };
      throw e;
    }
  };

  const keep = (piece: Uint8Array) => {
    fed.push(piece);
    fedBytes += piece.byteLength;
    while (fed.length > WINDOW_MIN_WRITES && (fedBytes - fed[0]!.byteLength >= WINDOW_BYTES || fed.length > WINDOW_MAX_WRITES)) fedBytes -= fed.shift()!.byteLength;
  };

  /** Whether `buf` holds the current member's trailer right before offset `p`. */
  const trailerBefore = (buf: Uint8Array, p: number) =>
    p >= 8 && u32le(buf, p - 4) === size % 2 ** 32 && (crcBytes !== size || u32le(buf, p - 8) === crc);

  /**
   * Writes input to the decoder and closes it at the end of a small member ('member') or
   * of the input ('end'); 'unconfirmed' when the decoder disagreed, 'truncated' when it
   * wanted more input, 'failed' when the source or a write failed.
   */
  async function feed(w: WritableStreamDefaultWriter<Uint8Array>): Promise<'member' | 'end' | 'unconfirmed' | 'truncated' | 'failed'> {
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = pending.shift() ?? (await readSource());
      } catch (e) {
        await w.abort(e).catch(() => {});
        return 'failed';
      }
      if (chunk === undefined) break;
      for (let at = 0; at < chunk.byteLength; ) {
        try {
          if (fedBytes > 0 && crcBytes === size && isMemberStart(chunk, at)) {
            await w.write(EMPTY); // runs once all output so far has been read and counted
            const t = tail(fed, 8);
            if (crcBytes === size && trailerBefore(t, t.length)) {
              pending.unshift(chunk.subarray(at));
              return await w.close().then(() => 'member' as const, () => 'unconfirmed' as const);
            }
          }
          const end = memberStart(chunk, at + 1);
          const piece = chunk.subarray(at, end);
          keep(piece); // before writing: a write that fails may still have been read
          at = end;
          await w.write(piece);
        } catch {
          if (at < chunk.byteLength) pending.unshift(chunk.subarray(at));
          return 'failed';
        }
      }
    }
    try {
      // Again all output read first, so that an error at flush (from a decoder that reads
      // ahead) cannot drop it with the queue.
      await w.write(EMPTY);
    } catch {
      return 'failed';
    }
    return w.close().then(() => 'end' as const, () => 'truncated' as const);
  }

  /** Whether `first`, then the rest of the input, starts with a member's magic (or all there is of one). */
  async function startsMember(first: Uint8Array): Promise<boolean> {
    const head: number[] = [];
    for (let i = -1; head.length < 3; i++) {
      let c: Uint8Array | undefined = i < 0 ? first : pending[i];
      if (c === undefined) {
        if ((c = await readSource()) === undefined) break;
        pending.push(c);
      }
      for (let k = 0; k < c.byteLength && head.length < 3; k++) head.push(c[k]!);
    }
    return head.every((b, k) => b === GZIP_MAGIC[k]);
  }

  const newMember = () => {
    fed = [];
    fedBytes = size = crc = crcBytes = 0;
  };

  /**
   * After a decoder error: whether the current member ended within the input fed to it,
   * and if so, continues after it. The first such place wins: empty members all have the
   * same trailer.
   */
  async function skipToNextMember(): Promise<boolean> {
    const kept = concat(fed);
    const isize = size % 2 ** 32;
    // p < kept.length: the decoder complained about something written after the end.
    for (let p = kept.indexOf(isize & 255, 4) + 4; p >= 8 && p < kept.length; p = kept.indexOf(isize & 255, p - 3) + 4) {
      if (!trailerBefore(kept, p) || !(await startsMember(kept.subarray(p)))) continue;
      pending.unshift(kept.subarray(p));
      newMember();
      return true;
    }
    return false;
  }

  async function* members(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const pair = make();
      const w = (writer = pair.writable.getWriter());
      const r = (reader = pair.readable.getReader());
      const feeding = feed(w);
      let failure: { e: unknown } | undefined;
      try {
        for (;;) {
          const { done, value } = await r.read();
          if (done) break;
          if (crcBytes === size && size < CRC_BYTES) {
            crc = crc32(crc, value);
            crcBytes += value.byteLength;
          }
          size += value.byteLength;
          yield value;
        }
      } catch (e) {
        failure = { e };
        w.abort(e).catch(() => {});
      }
      const outcome = await feeding;
      if (sourceError) throw sourceError.e;
      if (outcome === 'member' && !failure) newMember();
      else if (outcome === 'end' && !failure) {
        // A decoder that stopped early without a word would leave bytes after the trailer.
        const t = tail(fed, 8);
        if (!trailerBefore(t, t.length)) throw new ImageError('BAD_TAR', 'gzip layer data is corrupt: the decoder stopped before the end of the data');
        return;
      } else if (outcome === 'truncated') throw new ImageError('TRUNCATED', 'gzip layer data is truncated: the input ends inside a member', { cause: failure?.e });
      else if (outcome === 'unconfirmed') throw new ImageError('BAD_TAR', "gzip layer data is corrupt: a member's trailer does not end it", { cause: failure?.e });
      else if (!(await skipToNextMember())) throw failure ? failure.e : new ImageError('BAD_TAR', 'gzip layer data is corrupt: the decoder gave up');
    }
  }

  const out = members();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await out.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        source.cancel(e).catch(() => {});
        controller.error(mapGzipError(e));
      }
    },
    async cancel(reason) {
      await Promise.all([source.cancel(reason), writer?.abort(reason), reader?.cancel(reason)].map((p) => p?.catch(() => {})));
    },
  });
}

/** Whether a gzip member may start at `b[i]`: its magic, or a prefix of it ending `b`. */
function isMemberStart(b: Uint8Array, i: number): boolean {
  return b[i] === 0x1f && (i + 1 === b.length || b[i + 1] === 0x8b) && (i + 2 >= b.length || b[i + 2] === 8);
}

/** The first offset ≥ `from` where a gzip member may start, else b's length. */
function memberStart(b: Uint8Array, from: number): number {
  for (let i = b.indexOf(0x1f, from); i >= 0; i = b.indexOf(0x1f, i + 1)) if (isMemberStart(b, i)) return i;
  return b.length;
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** The last `n` bytes of `parts` (fewer if they hold fewer). */
function tail(parts: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let k = n;
  for (let i = parts.length - 1; i >= 0 && k > 0; i--) {
    const p = parts[i]!;
    const take = Math.min(k, p.byteLength);
    out.set(p.subarray(p.byteLength - take), k - take);
    k -= take;
  }
  return out.subarray(k);
}

let crcTable: Uint32Array | undefined;

/** gzip's CRC-32 of `b`, continuing `crc`; slicing by 16 bytes, about 6× byte-at-a-time in V8. */
export function crc32(crc: number, b: Uint8Array): number {
  const t = (crcTable ??= makeCrcTable());
  let c = ~crc;
  let i = 0;
  for (const end = b.length - (b.length & 15); i < end; i += 16) {
    const a = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) ^ c;
    c =
      t[3840 + (a & 255)]! ^ t[3584 + ((a >>> 8) & 255)]! ^ t[3328 + ((a >>> 16) & 255)]! ^ t[3072 + (a >>> 24)]! ^
      t[2816 + b[i + 4]!]! ^ t[2560 + b[i + 5]!]! ^ t[2304 + b[i + 6]!]! ^ t[2048 + b[i + 7]!]! ^
      t[1792 + b[i + 8]!]! ^ t[1536 + b[i + 9]!]! ^ t[1280 + b[i + 10]!]! ^ t[1024 + b[i + 11]!]! ^
      t[768 + b[i + 12]!]! ^ t[512 + b[i + 13]!]! ^ t[256 + b[i + 14]!]! ^ t[b[i + 15]!]!;
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]!) & 255]! ^ (c >>> 8);
  return ~c >>> 0;
}

function makeCrcTable(): Uint32Array {
  const t = new Uint32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let s = 256; s < 4096; s += 256) t[s + n] = (t[s - 256 + n]! >>> 8) ^ t[t[s - 256 + n]! & 255]!;
  return t;
}

/** A decoder's error as an ImageError: TRUNCATED or BAD_TAR. */
export function mapGzipError(e: unknown): unknown {
  if (e instanceof ImageError) return e;
  const msg = errorMessage(e);
  const code = (e as { code?: unknown })?.code;
  if (code === 'Z_BUF_ERROR' || /unexpected end|truncat|incomplete|premature/i.test(msg)) {
    return new ImageError('TRUNCATED', `gzip layer data is truncated: ${msg}`, { cause: e });
  }
  return new ImageError('BAD_TAR', `gzip layer data is corrupt: ${msg}`, { cause: e });
}
