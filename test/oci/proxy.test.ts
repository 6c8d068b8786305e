// proxyFetch: absolute http(s) URLs go to {base}/{scheme}/{host}/{path}; everything else,
// and what already goes through the proxy, is left alone.
import { describe, expect, test } from 'vitest';
import { ImageError, proxyFetch } from '../../oci/index.js';
import { httpContext } from '../../oci/http.js';
import { normaliseProxyBase, proxyUrl } from '../../oci/proxy.js';
import type { FetchLike } from '../../oci/types.js';

const BASE = 'http://127.0.0.1:5080';

describe('proxyUrl', () => {
  test.each([
    ['https://registry-1.docker.io/v2/library/alpine/manifests/latest', `${BASE}/https/registry-1.docker.io/v2/library/alpine/manifests/latest`],
    ['http://127.0.0.1:5000/v2/', `${BASE}/http/127.0.0.1:5000/v2/`],
    ['https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull', `${BASE}/https/auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull`],
    ['HTTPS://Registry.Example/v2/x', `${BASE}/https/registry.example/v2/x`],
    ['https://host', `${BASE}/https/host/`],
    ['https://host?x=1', `${BASE}/https/host/?x=1`],
    ['https://host/p#frag', `${BASE}/https/host/p`],
    ['http://[::1]:5000/v2/', `${BASE}/http/[::1]:5000/v2/`],
  ])('%s', (input, expected) => {
    expect(proxyUrl(BASE, input)).toBe(expected);
  });

  test('keeps the path bytes as written (no re-encoding)', () => {
    expect(proxyUrl(BASE, 'https://h/v2/a%2Fb/blobs/sha256:ab?q=a b')).toBe(`${BASE}/https/h/v2/a%2Fb/blobs/sha256:ab?q=a b`);
  });

  test('already-proxied URLs (a rewritten token realm) are unchanged', () => {
    const realm = `${BASE}/https/auth.docker.io/token?scope=x`;
    expect(proxyUrl(BASE, realm)).toBe(realm);
    expect(proxyUrl(`${BASE}/`, realm)).toBe(realm);
  });

  test('a base with a path', () => {
    const base = 'https://proxy.example/cors/';
    expect(proxyUrl(base, 'https://ghcr.io/v2/')).toBe('https://proxy.example/cors/https/ghcr.io/v2/');
    expect(proxyUrl(base, 'https://proxy.example/cors/https/ghcr.io/v2/')).toBe('https://proxy.example/cors/https/ghcr.io/v2/');
    // Same host, outside the base path: still proxied.
    expect(proxyUrl(base, 'https://proxy.example/other')).toBe('https://proxy.example/cors/https/proxy.example/other');
  });

  test('non-http URLs are unchanged', () => {
    expect(proxyUrl(BASE, 'file:///tmp/layout/index.json')).toBe('file:///tmp/layout/index.json');
    expect(proxyUrl(BASE, 'data:,x')).toBe('data:,x');
  });

  test.each(['ftp://x/', 'not a url', 'http://x/?q=1', 'http://u:p@x/', 'http://x/#f'])('bad base %s', (base) => {
    expect(() => normaliseProxyBase(base)).toThrow(ImageError);
  });
});

describe('proxyFetch', () => {
  test('rewrites the URL and passes init through', async () => {
    const seen: [string, RequestInit | undefined][] = [];
    const inner: FetchLike = async (input, init) => {
      seen.push([input, init]);
      return new Response('ok');
    };
    const init = { headers: { authorization: 'Bearer t', range: 'bytes=0-1' }, redirect: 'manual' as const };
    await proxyFetch(inner, BASE)('https://ghcr.io/v2/o/r/blobs/sha256:00', init);
    expect(seen).toEqual([[`${BASE}/https/ghcr.io/v2/o/r/blobs/sha256:00`, init]]);
  });

  test('httpContext applies PullOptions.proxy, and only then', async () => {
    const seen: string[] = [];
    const inner: FetchLike = async (input) => {
      seen.push(input);
      return new Response('ok');
    };
    await httpContext({ fetch: inner, proxy: BASE }).fetch('https://r.example/v2/');
    await httpContext({ fetch: inner }).fetch('https://r.example/v2/');
    expect(seen).toEqual([`${BASE}/https/r.example/v2/`, 'https://r.example/v2/']);
    expect(() => httpContext({ fetch: inner, proxy: 'ftp://x' })).toThrow(/proxy/);
  });
});
