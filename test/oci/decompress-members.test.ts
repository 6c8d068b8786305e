// gzip through a native decoder that stops after one member (Chromium's, simulated by
// strictGunzip): restarted at each member's end, output identical to node:zlib's.
import { crc32 as zlibCrc32, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../oci/gzip-members.js';
import { ImageError, decompressStream } from '../../oci/index.js';
import { content } from './images.js';
import { laggingStrictGunzip, strictGunzip } from './strict-gunzip.js';
import { chunked, collect, failure } from './stream-helpers.js';


/** Incompressible bytes (xorshift32), so that members are as large in as out. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

const members = (...parts: Uint8Array[]) => Buffer.concat(parts.map((p) => gzipSync(p)));

describe.each([
  { name: 'Chromium-like', nativeGzip: strictGunzip },
  { name: 'reading ahead', nativeGzip: laggingStrictGunzip },
])('gzip members through a one-member native decoder ($name)', ({ nativeGzip }) => {
  const decode = (gz: Uint8Array, size: number) => collect(decompressStream('gzip', chunked(gz, size), { nativeGzip }));
  const expectSame = async (gz: Uint8Array, size: number) => {
    const got = await decode(gz, size);
    expect(got.length).toBe(gunzipSync(gz).length);
    expect(got.equals(gunzipSync(gz))).toBe(true);
  };

  it('one member', async () => {
    const gz = gzipSync(content(300_000, 1));
    for (const size of [7, 4096, 65536, gz.length]) await expectSame(gz, size);
  });

  it('two members, in one chunk and in many', async () => {
    const gz = members(content(300_000, 1), content(1000, 2));
    for (const size of [7, 65536, gz.length]) await expectSame(gz, size);
  });

  it('boundaries inside chunks and across chunk edges (chunks of 1, 7, 64 KiB)', async () => {
    const small = members(content(3000, 3), content(10, 4), new Uint8Array(0), content(2000, 5), new Uint8Array(0), new Uint8Array(0), content(1, 6));
    for (const size of [1, 7, 65536]) await expectSame(small, size);
    const large = members(content(200_000, 7), content(150_000, 8), content(5, 9), content(90_000, 10));
    for (const size of [7, 1000, 65536]) await expectSame(large, size);
    // Every boundary at every offset of a chunk edge.
    const a = gzipSync(content(5000, 11)).length;
    const gz = members(content(5000, 11), content(4000, 12));
    for (let cut = a - 12; cut <= a + 12; cut++) {
      const both = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(gz.slice(0, cut));
          c.enqueue(gz.slice(cut));
          c.close();
        },
      });
      expect((await collect(decompressStream('gzip', both, { nativeGzip }))).equals(gunzipSync(gz))).toBe(true);
    }
  });

  it('3000 tiny members (eStargz-like), fast', async () => {
    const parts = Array.from({ length: 3000 }, (_, i) => (i % 10 === 9 ? new Uint8Array(0) : content(20 + (i % 300), i + 1)));
    // The decoder alone, one member at a time (the test decoder is slower than Chromium's).
    let t0 = performance.now();
    for (const p of parts) for await (const _ of new Blob([gzipSync(p)]).stream().pipeThrough(nativeGzip()) as unknown as AsyncIterable<Uint8Array>);
    const alone = performance.now() - t0;
    const gz = members(...parts);
    t0 = performance.now();
    await expectSame(gz, 65536);
    const ms = performance.now() - t0;
    console.log(`3000 members, ${gz.length} bytes: ${ms.toFixed(0)} ms; the decoder alone ${alone.toFixed(0)} ms`);
    expect(ms).toBeLessThan(2 * alone + 1000);
  });

  it('members larger than the CRC and input windows', async () => {
    const big = noise(3 << 20, 42); // > 1 MiB in and out
    const gz = members(big, content(1000, 13), big.subarray(0, 1_500_000), new Uint8Array(0));
    await expectSame(gz, 65536);
    await expectSame(gz, 1 << 20);
  });

  it('only empty members', async () => {
    const gz = members(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0));
    for (const size of [1, 7, gz.length]) expect((await decode(gz, size)).length).toBe(0);
  });

  it('truncated input is TRUNCATED', async () => {
    const a = gzipSync(content(70_000, 14)).length;
    const gz = members(content(70_000, 14), content(30_000, 15), content(10, 16));
    for (const cut of [0, 1, 5, 20, a - 4, a - 1, a + 1, a + 2, a + 3, a + 12, a + 200, gz.length - 4, gz.length - 1]) {
      for (const size of [7, 4096]) {
        const e = await failure(decode(gz.subarray(0, cut), size));
        expect(e.code, `cut ${cut}, chunks of ${size}: ${e.message}`).toBe('TRUNCATED');
      }
    }
  });

  it('corrupt input is BAD_TAR', async () => {
    const a = gzipSync(content(70_000, 17)).length;
    const good = members(content(70_000, 17), content(30_000, 18));
    for (const at of [100, a - 8, a - 2, a + 3, a + 200]) {
      const gz = Buffer.from(good);
      gz[at]! ^= 0x55;
      for (const size of [7, 65536]) {
        const e = await failure(decode(gz, size));
        expect(e.code, `byte ${at}, chunks of ${size}: ${e.message}`).toBe('BAD_TAR');
      }
    }
  });

  it('data after the last member that is not a member is BAD_TAR', async () => {
    const gz = members(content(70_000, 19), content(10, 20));
    const tails = [Buffer.from('garbage!'), Buffer.from([0x1f, 0x8b, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(512), Buffer.from([0x1f, 0x8c, 8])];
    for (const tail of tails) {
      for (const size of [1, 7, 65536]) {
        const e = await failure(decode(Buffer.concat([gz, tail]), size));
        expect(e.code, `${tail.toString('hex').slice(0, 24)}, chunks of ${size}: ${e.message}`).toBe('BAD_TAR');
      }
    }
  });

  it('passes upstream ImageErrors through unchanged', async () => {
    const gz = members(content(70_000, 21), content(10, 22));
    const src = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(gz.subarray(0, gz.length - 10));
        ctl.error(new ImageError('DIGEST_MISMATCH', 'boom'));
      },
    });
    expect((await failure(collect(decompressStream('gzip', src, { nativeGzip })))).code).toBe('DIGEST_MISMATCH');
  });
});

describe('member ends', () => {
  it('small members end without a decoder error; large ones with one each', async () => {
    const seen = { errors: 0 };
    const small = members(...Array.from({ length: 100 }, (_, i) => content(100 + i * 50, i + 1)));
    for (const size of [1, 7, 65536]) {
      expect((await collect(decompressStream('gzip', chunked(small, size), { nativeGzip: () => strictGunzip(seen) }))).equals(gunzipSync(small))).toBe(true);
    }
    expect(seen.errors).toBe(0);
    const large = members(noise(1_100_000, 1), noise(1_100_000, 2), content(10, 3));
    expect((await collect(decompressStream('gzip', chunked(large, 65536), { nativeGzip: () => strictGunzip(seen) }))).equals(gunzipSync(large))).toBe(true);
    expect(seen.errors).toBe(2);
  });
});

describe('the one-member decoder simulation', () => {
  it('loses output like Chromium when a write holds a member end and more', async () => {
    // Chromium 156 returned 131072 of 300000 bytes, then "Junk found after end of compressed data."
    const gz = members(content(300_000, 1), content(1000, 2));
    const reader = new Blob([gz]).stream().pipeThrough(strictGunzip()).getReader();
    let got = 0;
    const e = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        got += value.length;
      }
    })().catch((err: unknown) => err);
    expect(String(e)).toMatch(/Junk found after end/);
    expect(got).toBeLessThan(300_000);
  });

  it('opts.native === false still means pako', async () => {
    const failing = () => {
      throw new Error('native decoder used');
    };
    const gz = members(content(5000, 1), content(10, 2));
    expect((await collect(decompressStream('gzip', chunked(gz, 100), { native: false, nativeGzip: failing }))).equals(gunzipSync(gz))).toBe(true);
  });
});

describe('crc32', () => {
  it('matches zlib at every length and split', () => {
    const data = noise(1000, 7);
    for (const n of [0, 1, 15, 16, 17, 31, 33, 999, 1000]) expect(crc32(0, data.subarray(0, n))).toBe(zlibCrc32(data.subarray(0, n)));
    for (const cut of [0, 1, 7, 16, 500, 999]) expect(crc32(crc32(0, data.subarray(0, cut)), data.subarray(cut))).toBe(zlibCrc32(data));
  });
});
