// Stream helpers shared by the decompression tests.
import { expect } from 'vitest';
import { ImageError } from '../../oci/index.js';

/** A stream of `bytes` in chunks of `size` (awkward sizes split headers and members). */
export function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, (off += size)));
    },
  });
}

export async function collect(s: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return Buffer.concat(parts);
}

/** The ImageError `p` rejects with. */
export async function failure(p: Promise<unknown>): Promise<ImageError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(ImageError);
  return e as ImageError;
}
