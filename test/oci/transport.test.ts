import { describe, expect, it } from 'vitest';
import { fetchBlobRange, openBlob, openLayer, resolveImage } from '../../oci/index.js';
import { parseWwwAuthenticate } from '../../oci/auth.js';
import { FakeRegistry, sha256 } from './fake-registry.js';
import { collect, fast, recordingLogger, rejectsWith } from './helpers.js';
import { content, pushImage } from './images.js';

const REF = '127.0.0.1:5000/app';

describe('WWW-Authenticate parsing', () => {
  it('splits several challenges and keeps commas inside quotes', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push", Basic realm="r\\"q"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push' } },
      { scheme: 'basic', params: { realm: 'r"q' } },
    ]);
    expect(parseWwwAuthenticate('Bearer realm=https://t/x, error=invalid_token')).toEqual([{ scheme: 'bearer', params: { realm: 'https://t/x', error: 'invalid_token' } }]);
  });
});

describe('bearer auth', () => {
  it('gets an anonymous token once and reuses it for every blob', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', anonymous: true });
    const img = pushImage(reg, 'app', 'latest');
    const image = await resolveImage(REF, { fetch: reg.fetch });
    for (const l of image.layers) await collect(openLayer(image, l));
    const tokenReqs = reg.requests(/auth\.example\.test/);
    expect(tokenReqs).toHaveLength(1);
    const u = new URL(tokenReqs[0]!.url);
    expect(u.searchParams.get('service')).toBe('fake.registry');
    expect(u.searchParams.get('scope')).toBe('repository:app:pull');
    expect(tokenReqs[0]!.headers.get('authorization')).toBeNull();
    expect(reg.requests(new RegExp(`blobs/${img.layers[1]!.digest}`))[0]!.headers.get('authorization')).toBe('Bearer tok1');
  });

  it('sends Basic credentials to the token endpoint, and a refresh token by POST', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', users: { alice: 's3cr:et' }, refreshTokens: ['idtok'] });
    pushImage(reg, 'app', 'latest');
    await resolveImage(REF, { fetch: reg.fetch, credentials: (host) => (host === '127.0.0.1:5000' ? { username: 'alice', password: 's3cr:et' } : undefined) });
    expect(reg.requests(/auth\.example\.test/)[0]!.headers.get('authorization')).toBe(`Basic ${Buffer.from('alice:s3cr:et').toString('base64')}`);
    await resolveImage(REF, { fetch: reg.fetch, credentials: () => ({ token: 'idtok' }) });
    expect(reg.requests(/auth\.example\.test/).at(-1)!.method).toBe('POST');
  });

  it('UNAUTHORIZED with an actionable message when credentials are missing or wrong', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', users: { alice: 'pw' } });
    pushImage(reg, 'x', 'latest');
    await rejectsWith(
      resolveImage('127.0.0.1:5000/x', { fetch: reg.fetch }),
      'UNAUTHORIZED',
      /^registry 127\.0\.0\.1:5000 refused access to repo "x" \(401\): credentials required.* — pass --username\/--password or docker login$/,
    );
    await rejectsWith(
      resolveImage('127.0.0.1:5000/x', { fetch: reg.fetch, credentials: () => ({ username: 'alice', password: 'nope' }) }),
      'UNAUTHORIZED',
      /credentials were rejected.*incorrect username or password/,
    );
  });

  it('fetches a new token when the cached one expires', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', anonymous: true });
    const img = pushImage(reg, 'app', 'latest');
    const image = await resolveImage(REF, { fetch: reg.fetch });
    reg.expireTokens();
    expect(await collect(openLayer(image, image.layers[0]!))).toEqual(Buffer.from(img.plain[0]!));
    expect(reg.requests(/auth\.example\.test/)).toHaveLength(2);
  });
});

describe('basic auth', () => {
  it('answers a Basic challenge with credentials', async () => {
    const reg = new FakeRegistry({ auth: 'basic', users: { bob: 'pw' } });
    pushImage(reg, 'app', 'latest');
    const image = await resolveImage(REF, { fetch: reg.fetch, credentials: () => ({ username: 'bob', password: 'pw' }) });
    await collect(openBlob(image, image.layers[0]!));
    await rejectsWith(resolveImage(REF, { fetch: reg.fetch }), 'UNAUTHORIZED', /credentials required/);
    await rejectsWith(resolveImage(REF, { fetch: reg.fetch, credentials: () => ({ username: 'bob', password: 'bad' }) }), 'UNAUTHORIZED', /rejected/);
  });
});

describe('redirects', () => {
  it('follows blob redirects to another origin without forwarding Authorization', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', anonymous: true, redirectBlobsTo: 'https://cdn.example.test' });
    const img = pushImage(reg, 'app', 'latest');
    const image = await resolveImage(REF, { fetch: reg.fetch });
    expect(await collect(openLayer(image, image.layers[0]!))).toEqual(Buffer.from(img.plain[0]!));
    const cdn = reg.requests(/cdn\.example\.test/);
    expect(cdn.length).toBeGreaterThan(0);
    for (const r of cdn) expect(r.headers.get('authorization')).toBeNull();
    for (const r of reg.requests(/127\.0\.0\.1:5000\/v2\/app\/blobs/)) {
      expect(r.headers.get('authorization')).toMatch(/^Bearer /);
      expect(r.redirect).toBe('manual');
    }
  });

  it('lets a browser follow opaque redirects', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', anonymous: true, redirectBlobsTo: 'https://cdn.example.test', browser: true });
    const img = pushImage(reg, 'app', 'latest');
    const image = await resolveImage(REF, { fetch: reg.fetch });
    expect(await collect(openLayer(image, image.layers[1]!))).toEqual(Buffer.from(img.plain[1]!));
    for (const r of reg.requests(/cdn\.example\.test/)) expect(r.headers.get('authorization')).toBeNull();
  });
});

describe('retries', () => {
  it('waits for Retry-After on 429, then succeeds', async () => {
    const reg = new FakeRegistry();
    pushImage(reg, 'app', 'latest');
    reg.inject(/manifests\/latest/, { kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const { warnings, logger } = recordingLogger();
    const t0 = Date.now();
    await resolveImage(REF, { fetch: reg.fetch, logger, ...fast });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(warnings.join('\n')).toMatch(/HTTP 429; retrying in 1000 ms \(attempt 2 of 6\)/);
  });

  it('retries 5xx and network errors, then gives up saying how often it tried', async () => {
    const reg = new FakeRegistry();
    pushImage(reg, 'app', 'latest');
    reg.inject(/manifests/, { kind: 'status', status: 503 }, 2);
    reg.inject(/manifests/, { kind: 'throw' }, 1);
    await resolveImage(REF, { fetch: reg.fetch, ...fast });
    reg.inject(/manifests/, { kind: 'status', status: 500 }, 3);
    await rejectsWith(resolveImage(REF, { fetch: reg.fetch, retries: 2, ...fast }), 'HTTP_ERROR', /HTTP 500 after 3 attempts/);
    reg.inject(/manifests/, { kind: 'throw' }, 3);
    await rejectsWith(resolveImage(REF, { fetch: reg.fetch, retries: 2, ...fast }), 'NETWORK', /gave up after 3 attempts/);
  });

  it('does not retry other client errors', async () => {
    const reg = new FakeRegistry();
    pushImage(reg, 'app', 'latest');
    reg.inject(/manifests/, { kind: 'status', status: 400 }, 1);
    await rejectsWith(resolveImage(REF, { fetch: reg.fetch, ...fast }), 'HTTP_ERROR', /HTTP 400/);
    expect(reg.requests(/manifests/)).toHaveLength(1);
  });
});

describe('blob streaming', () => {
  const big = content(200_000, 5);

  async function setup(opts: ConstructorParameters<typeof FakeRegistry>[0] = {}) {
    const reg = new FakeRegistry(opts);
    const img = pushImage(reg, 'app', 'latest', { layers: [big] });
    const image = await resolveImage(REF, { fetch: reg.fetch, ...fast });
    return { reg, img, image, layer: image.layers[0]!, blobRe: new RegExp(`blobs/${img.layers[0]!.digest}`) };
  }

  it('resumes a dropped connection with Range from the byte received', async () => {
    const { reg, image, layer, blobRe } = await setup();
    reg.inject(blobRe, { kind: 'drop', after: 1000 });
    reg.inject(blobRe, { kind: 'drop', after: 500 });
    const { warnings, logger } = recordingLogger();
    expect(await collect(openLayer(image, layer, { logger }))).toEqual(Buffer.from(big));
    const ranges = reg.requests(blobRe).map((r) => r.headers.get('range'));
    expect(ranges).toEqual([null, 'bytes=1000-', 'bytes=1500-']);
    expect(warnings).toHaveLength(2);
  });

  it('restarts and skips when the server ignores Range', async () => {
    const { reg, image, layer, blobRe } = await setup({ ignoreRange: true });
    reg.inject(blobRe, { kind: 'drop', after: 700 });
    const raw = await collect(openBlob(image, layer));
    expect(sha256(raw)).toBe(layer.digest);
    expect(raw.length).toBe(layer.size);
  });

  it('errors with DIGEST_MISMATCH before closing when the bytes are wrong', async () => {
    const { reg, image, layer, blobRe } = await setup();
    reg.inject(blobRe, { kind: 'corrupt' });
    const reader = openBlob(image, layer).getReader();
    let bytes = 0;
    const e = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined; // must never happen
        bytes += value.length;
      }
    })().catch((err: unknown) => err);
    expect(bytes).toBe(layer.size);
    await rejectsWith(Promise.reject(e), 'DIGEST_MISMATCH', new RegExp(`blob ${layer.digest}.*expected ${layer.digest}, got sha256:[0-9a-f]{64}`));
    // And through openLayer the decompressed stream fails too.
    reg.inject(blobRe, { kind: 'corrupt' });
    const e2 = await collect(openLayer(image, layer)).catch((err: unknown) => err);
    expect(['DIGEST_MISMATCH', 'BAD_TAR', 'TRUNCATED']).toContain((e2 as { code: string }).code);
    expect((e2 as Error).message).toContain(layer.digest); // whichever check trips first names the blob
  });

  it('SIZE_MISMATCH when the server sends more than the descriptor says', async () => {
    const { reg, image, layer } = await setup();
    const extra = Buffer.concat([Buffer.from(reg.blobs.get(layer.digest)!), Buffer.from('junk')]);
    reg.blobs.set(layer.digest, extra);
    await rejectsWith(collect(openBlob(image, layer)), 'SIZE_MISMATCH', /more than/);
  });

  it('TRUNCATED when the body keeps ending early', async () => {
    const { reg, image, layer, blobRe } = await setup();
    reg.inject(blobRe, { kind: 'short', after: 100 }, 100);
    await rejectsWith(collect(openBlob(image, layer, { retries: 2, ...fast })), 'TRUNCATED', /truncated: got 300 of \d+ bytes \(after 3 attempts\)/);
  });

  it('NETWORK after repeated drops without progress', async () => {
    const { reg, image, layer, blobRe } = await setup();
    reg.inject(blobRe, { kind: 'drop', after: 0 }, 100);
    await rejectsWith(collect(openBlob(image, layer, { retries: 3, ...fast })), 'NETWORK', /after 4 attempts/);
  });

  it('fetchBlobRange returns exact byte ranges, with or without server Range support', async () => {
    for (const ignoreRange of [false, true]) {
      const { reg, image, layer } = await setup({ ignoreRange });
      const raw = reg.blobs.get(layer.digest)!;
      const part = await fetchBlobRange(image, layer, 10, 4000);
      expect(Buffer.from(part)).toEqual(Buffer.from(raw.subarray(10, 4000)));
      expect((await fetchBlobRange(image, layer, layer.size - 3, layer.size)).length).toBe(3);
      expect((await fetchBlobRange(image, layer, 5, 5)).length).toBe(0);
    }
    const { image, layer } = await setup();
    await expect(fetchBlobRange(image, layer, 0, layer.size + 1)).rejects.toThrow(RangeError);
  });
});
