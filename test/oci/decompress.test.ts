import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageError, decompressStream, sniffCompression } from '../../oci/index.js';
import { content } from './images.js';
import { chunked, collect, failure } from './stream-helpers.js';

// Two zstd frames: 300000 bytes of a repeated 1000-byte pseudo-random unit (several
// blocks, no checksum), then "hello zstd\n" (with an XXH64 checksum). Made once with
//   zstd -19 --no-check z1.bin; zstd --check z2.bin; cat z1.zst z2.zst
const ZSTD_SAMPLE = Buffer.from(
  'KLUv/aDgkwQApB8AVD7MJgugxYEHM5cjNuY3Hl+8N/kmIofCuvhX4R3I0dIRHpTDrDtcMycZkB9/0CxVXvz1HSLnAXfH9V0cJmLM' +
  'ol+aykKNtCqGq+6lKIAnBnGSiCg+1oI48OQzre9r6gN0IkEAqVV0+ccErhHW1/rbGV0Kx4lLESNEYc3aGySs6kOgHVo5y+OzsW6H' +
  'CztebERUg19/BkZOPxNkUx1yA+tVYsPYlo1oCXh+5FoTq7F+CY7cBxQjy5/VvYIdRD4wjvSHeNLvTsiyXV8GCeyOq62djativ3v4' +
  'Y1IeUkQxkKra6N+Dk81XpT1dFT8W4+KAvOSrVaWJ2eS+3DyTqGhdRqlj2D8OkzP7opW0zFFJV2+O3lTVU2PP7P558liSlCiw9T5h' +
  'vzFVU8W1SbS0kmCCdL/zPCFWsCZJ1teKL2B+8wz7P29jsbGLetDXxyU7O1VmOBlT4baZ1YpLFtFJmC6Go4uyQG13/jFhhVf3ArsV' +
  'SVgXnmyJwEDqLcZhQpQtRR0aoEcGDkOEsXg5aNo74NtzbAgP0cDzoRlwfmlaKjBnE6GP7xd9Is77BlWVyzVH6AeU7DY4dGqjMzae' +
  'Rv2fL9Wv8fgqti9JgxRjlvrb3GbFtGXI2hb9eLVdz9AwAyZd1vbnxH+wYRIXykU/t5CIYzjdf3T+v9EXrRReDn/nVR4W6YVBWjoG' +
  'x/2waTQjhKZEbSX8nn7BESgTSVwoJklZ/WvBl6vi6E5VlJpUEkvmVR46/3ArMFze2EqmGqzy4aK23qVGmENT79ntx0y2aJ3IK/+/' +
  'nYuNdMBqMak1md2sV0JMh0NS/AfV5iXRiIN6l3lHZKZ0xG9EhOZYd8S5xb0YInoJZ3Z/9EKpUKRG2/5dWqpn38tdImPTdXI26Ci6' +
  '5gtIOTH+ZcRnDNEoe/1dchN7vS9sl6i5whXeOogHhNng64f8VyJiVpjjwqzgXuF4xDoPbyNPrl2bv6/xQdE3T2r9is1JIcAPHVye' +
  'tSt+7pmvv9cLKlYK3WCSJgwP+WFiyAEBfbTQSe5nKG0wPhSOLx9RCGcqZqeg9KNfJVCeH2YhTzbSsEIBnSI+9yZ6cVwyEDAbOoH5' +
  'yBfo8xCQJmjkGpPVo2cWmjCPPqSQY/vEzFr97hACkNMdYYTVHrPJCtTp96d0u69//MU+A8Tz2+yvxhPx7LykDjyPTSDvVzyhtfOT' +
  '8s1Ab6RTGkQurguLuIxwGOz1S610XN3YDTTTl+dS6EQCQwEUTwwzWS2Vhh5gcGEB9noKVplaRqrEI1P64GiT2tMccmDCA7YKZvaR' +
  'oyLkWlxSwaARKOX7qdVlsaa0hJ6aT6A5Z6k38od9HrH9vR01AgCcFfzrJZ+SSAIrDVQAAAABAP3/u/+5BgJFAAAAAQDdEx0AASi1' +
  'L/0kC1kAAGhlbGxvIHpzdGQKbFf5UQ==' +
  '',
  'base64',
);

function zstdSamplePlain(): Uint8Array {
  const unit = new Uint8Array(1000);
  let x = 7;
  for (let i = 0; i < unit.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    unit[i] = x >>> 24;
  }
  const out = new Uint8Array(300011);
  for (let i = 0; i < 300000; i++) out[i] = unit[i % 1000]!;
  out.set(new TextEncoder().encode('hello zstd\n'), 300000);
  return out;
}


const modes = [
  { name: 'native DecompressionStream', native: true },
  { name: 'pako', native: false },
];

describe.each(modes)('gzip via $name', ({ native }) => {
  const a = content(70_000, 1);
  const b = content(10, 2);
  const c = content(100_000, 3);
  const multi = Buffer.concat([gzipSync(a), gzipSync(b), gzipSync(c)]);

  it('single member, many chunk sizes', async () => {
    const gz = gzipSync(a);
    for (const size of [1, 7, 4096, gz.length]) {
      expect((await collect(decompressStream('gzip', chunked(gz, size), { native }))).equals(Buffer.from(a))).toBe(true);
    }
  });

  it('concatenated members (eStargz), including boundaries on chunk edges', async () => {
    const want = Buffer.concat([a, b, c]);
    const first = gzipSync(a).length;
    for (const size of [3, 1000, first, multi.length]) {
      expect((await collect(decompressStream('gzip', chunked(multi, size), { native }))).equals(want)).toBe(true);
    }
  });

  it('truncated input is TRUNCATED, not a short result', async () => {
    for (const cut of [5, 20, multi.length - 4, gzipSync(a).length + 12]) {
      const e = await failure(collect(decompressStream('gzip', chunked(multi.subarray(0, cut), 512), { native })));
      expect(e.code).toBe('TRUNCATED');
    }
  });

  it('corrupt input is BAD_TAR', async () => {
    const gz = Buffer.from(gzipSync(a));
    gz[3] = 0xff; // reserved flag bits
    gz[200]! ^= 0xff;
    const e = await failure(collect(decompressStream('gzip', chunked(gz, 512), { native })));
    expect(['BAD_TAR', 'TRUNCATED']).toContain(e.code);
  });

  it('passes upstream ImageErrors through unchanged', async () => {
    const gz = gzipSync(a);
    const src = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(gz.subarray(0, 100));
        ctl.error(new ImageError('DIGEST_MISMATCH', 'boom'));
      },
    });
    expect((await failure(collect(decompressStream('gzip', src, { native })))).code).toBe('DIGEST_MISMATCH');
  });
});

describe('gzip without DecompressionStream', () => {
  const saved = globalThis.DecompressionStream;
  afterEach(() => {
    globalThis.DecompressionStream = saved;
  });
  it('falls back to pako when the platform has none', async () => {
    // @ts-expect-error hiding the global on purpose
    delete globalThis.DecompressionStream;
    const data = content(50_000, 9);
    const gz = Buffer.concat([gzipSync(data), gzipSync(data)]);
    expect((await collect(decompressStream('gzip', chunked(gz, 999)))).equals(Buffer.concat([data, data]))).toBe(true);
  });
});

describe('zstd', () => {
  it('decodes a multi-frame, multi-block sample in any chunking', async () => {
    const want = Buffer.from(zstdSamplePlain());
    for (const size of [7, 1024, ZSTD_SAMPLE.length]) {
      expect((await collect(decompressStream('zstd', chunked(ZSTD_SAMPLE, size))))).toEqual(want);
    }
  });

  it('truncated input is TRUNCATED', async () => {
    for (const cut of [3, 10, 500, ZSTD_SAMPLE.length - 2]) {
      const e = await failure(collect(decompressStream('zstd', chunked(ZSTD_SAMPLE.subarray(0, cut), 64))));
      expect(e.code).toBe('TRUNCATED');
    }
  });

  const haveCli = (() => {
    try {
      execFileSync('zstd', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!haveCli)('round-trips data compressed by the zstd CLI', async () => {
    const data = Buffer.from(content(2_000_000, 4));
    const z = execFileSync('zstd', ['-3', '-c', '-q'], { input: data, maxBuffer: 64 << 20 });
    expect((await collect(decompressStream('zstd', chunked(z, 65536)))).equals(data)).toBe(true);
  });
});

describe('sniffCompression', () => {
  it('recognises magic bytes', () => {
    expect(sniffCompression(new Uint8Array([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(new TextEncoder().encode('etc/'))).toBe('none');
    expect(sniffCompression(new Uint8Array([]))).toBe('none');
  });
  it('none passes bytes through', async () => {
    const d = content(100);
    expect(await collect(decompressStream('none', chunked(d, 10)))).toEqual(Buffer.from(d));
  });
});
