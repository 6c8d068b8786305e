// A blob as a verified stream: every byte is hashed on its way through, and the stream
// errors instead of closing if the digest or size is wrong — so a consumer that waits for
// the end never accepts unverified data. Dropped connections resume with a Range request
// and the same hash state, so a resumed blob is still verified as a whole.
import { createDigester, type Digester } from './digest.js';
import { ImageError, errorMessage, isAbortError } from './errors.js';
import { concat, discard, retryDelay, sleep, throwIfAborted, type HttpContext } from './http.js';
import type { ImageSource } from './source.js';
import type { BlobProgress, Descriptor } from './types.js';

/** Progress since the last failure that earns a fresh retry budget (slow but moving links). */
const PROGRESS_RESETS_RETRIES = 1024 * 1024;

export function verifiedBlobStream(
  ctx: HttpContext,
  source: ImageSource,
  desc: Descriptor,
  onProgress?: (p: BlobProgress) => void,
): ReadableStream<Uint8Array> {
  const what = `blob ${desc.digest} of ${source.label}`;
  let digester: Digester | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let received = 0;
  let skip = 0;
  let failures = 0;
  let receivedAtFailure = 0;

  async function open(): Promise<void> {
    const res = await source.getBlob(ctx, desc, received > 0 ? { start: received } : undefined);
    skip = 0;
    if (received > 0) {
      if (res.status === 206) {
        const m = /^bytes\s+(\d+)-/.exec(res.headers.get('content-range') ?? '');
        if (m && Number(m[1]) !== received) {
          await discard(res);
          throw new ImageError('HTTP_ERROR', `${what}: server resumed at byte ${m[1]} instead of ${received}`);
        }
      } else {
        // The server ignored Range: read from the start again, dropping what we have.
        skip = received;
        ctx.logger?.debug?.(`${what}: server ignored Range, re-reading ${received} bytes`);
      }
    }
    reader = (res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() })).getReader();
  }

  async function failed(e: unknown, controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    if (e instanceof ImageError || isAbortError(e)) {
      controller.error(e);
      return false;
    }
    const r = reader;
    reader = undefined;
    r?.cancel().catch(() => {});
    if (received - receivedAtFailure >= PROGRESS_RESETS_RETRIES) failures = 0;
    receivedAtFailure = received;
    failures++;
    const short = e === SHORT;
    if (failures > ctx.retries || (short && source.local)) {
      controller.error(
        short
          ? new ImageError('TRUNCATED', `${what}: truncated: got ${received} of ${desc.size} bytes (after ${failures} attempts)`)
          : new ImageError('NETWORK', `${what}: download failed after ${failures} attempts at byte ${received} of ${desc.size}: ${errorMessage(e)}`, { cause: e }),
      );
      return false;
    }
    const delay = retryDelay(ctx, failures);
    ctx.logger?.warn?.(`${what}: ${short ? 'body ended early' : `connection failed (${errorMessage(e)})`} at byte ${received} of ${desc.size}; resuming in ${Math.round(delay)} ms`);
    await sleep(delay, ctx.signal);
    return true;
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        try {
          throwIfAborted(ctx.signal);
          digester ??= await createDigester(desc.digest, ctx.codecs);
          if (!reader) await open();
          const { done, value } = await reader!.read();
          if (done) {
            reader = undefined;
            if (received < desc.size) throw SHORT;
            const actual = digester.digest();
            if (actual !== desc.digest) {
              controller.error(new ImageError('DIGEST_MISMATCH', `${what}: digest mismatch: expected ${desc.digest}, got ${actual}`));
            } else {
              controller.close();
            }
            return;
          }
          let chunk = value;
          if (skip > 0) {
            const drop = Math.min(skip, chunk.byteLength);
            skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.byteLength === 0) continue;
          }
          if (received + chunk.byteLength > desc.size) {
            const r = reader;
            reader = undefined;
            r?.cancel().catch(() => {});
            controller.error(new ImageError('SIZE_MISMATCH', `${what}: more than the ${desc.size} bytes the descriptor declares`));
            return;
          }
          digester.update(chunk);
          received += chunk.byteLength;
          onProgress?.({ digest: desc.digest, loaded: received, total: desc.size });
          controller.enqueue(chunk);
          return;
        } catch (e) {
          if (!(await failed(e, controller).catch((err: unknown) => (controller.error(err), false)))) return;
        }
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason).catch(() => {});
    },
  });
}

/** Marker for a body that ended cleanly before `desc.size` bytes: retried like a drop. */
const SHORT = Symbol('short body');

/** Reads a whole verified stream into memory (configs, small documents). */
export async function readStream(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  return concat(chunks, total);
}
