import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompressStream, ImageError } from '../../oci/index.js';
import { nodeCodecs } from '../../src/node/index.js';
import { collect, rejectsWith } from '../oci/helpers.js';

function streamOf(chunks: Uint8Array[], failWith?: Error): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else if (failWith) controller.error(failWith);
      else controller.close();
    },
  });
}

describe('nodeCodecs', () => {
  const { gunzip, createHash: hash } = nodeCodecs();

  it('hashes like node:crypto, incrementally', () => {
    const h = hash!('sha256');
    h.update(new TextEncoder().encode('hello '));
    h.update(new TextEncoder().encode('world'));
    expect(h.digestHex()).toBe(createHash('sha256').update('hello world').digest('hex'));
    expect(hash!('sha512').digestHex()).toHaveLength(128);
  });

  it('inflates concatenated gzip members split at any byte (eStargz layers)', async () => {
    const members = Buffer.concat([gzipSync('first member;'), gzipSync(''), gzipSync('second '.repeat(5000))]);
    const chunks = [members.subarray(0, 7), members.subarray(7, 40), members.subarray(40)];
    const out = await collect(decompressStream('gzip', streamOf(chunks), { gunzip }));
    expect(out.toString()).toBe('first member;' + 'second '.repeat(5000));
  });

  it('reports truncated and corrupt gzip with the same codes as the default decoders', async () => {
    const whole = gzipSync('x'.repeat(100_000));
    await rejectsWith(collect(decompressStream('gzip', streamOf([whole.subarray(0, whole.length - 10)]), { gunzip })), 'TRUNCATED');
    const corrupt = Buffer.from(whole);
    corrupt[20] ^= 0xff;
    await rejectsWith(collect(decompressStream('gzip', streamOf([corrupt]), { gunzip })), 'BAD_TAR');
  });

  it('passes an error of its source (a digest mismatch) through unchanged', async () => {
    const mismatch = new ImageError('DIGEST_MISMATCH', 'blob sha256:abc: digest mismatch');
    const err = await collect(decompressStream('gzip', streamOf([gzipSync('abc').subarray(0, 12)], mismatch), { gunzip })).catch((e: unknown) => e);
    expect(err).toBe(mismatch);
  });
});
