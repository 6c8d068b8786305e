// The cors-proxy against small local upstreams: routing, refused input, redirects (no
// Authorization across origins), challenge rewriting, streaming and upstream failures.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCorsProxy, type CorsProxy } from '../../src/node/index.js';

interface Upstream {
  server: Server;
  authority: string;
  seen: { url: string; method: string; headers: IncomingHttpHeaders }[];
}

async function upstream(handler: (url: string, res: import('node:http').ServerResponse) => void): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers });
    handler(req.url ?? '', res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, seen, authority: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const BIG = 8 << 20;
let a: Upstream; // the "registry"
let b: Upstream; // the "blob storage", another origin
let proxy: CorsProxy;
let upstreamProxy: CorsProxy;

beforeAll(async () => {
  b = await upstream((url, res) => {
    if (url.startsWith('/big')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
      res.end(Buffer.alloc(BIG, 7));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-secret': 'no', 'set-cookie': 'a=b' });
    res.end('blob-bytes');
  });
  a = await upstream((url, res) => {
    if (url === '/v2/') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${b.authority}/token?x=1",service="reg",scope="repository:r:pull"`, 'content-type': 'application/json' });
      res.end('{}');
    } else if (url === '/basic') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' });
      res.end();
    } else if (url === '/redirect-other') {
      res.writeHead(307, { location: `http://${b.authority}/blob?sig=1` });
      res.end();
    } else if (url === '/redirect-same') {
      res.writeHead(302, { location: '/final' });
      res.end();
    } else if (url === '/redirect-loop') {
      res.writeHead(302, { location: '/redirect-loop' });
      res.end();
    } else if (url === '/redirect-ftp') {
      res.writeHead(302, { location: 'ftp://x/y' });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'docker-content-digest': 'sha256:ab', etag: '"e"' });
      res.end(`path ${url}`);
    }
  });
  proxy = await startCorsProxy({ host: '127.0.0.1', port: 0 });
  upstreamProxy = await startCorsProxy({ host: '127.0.0.1', port: 0, upstream: `http://${a.authority}` });
});

afterAll(async () => {
  await proxy?.close();
  await upstreamProxy?.close();
  for (const u of [a, b]) {
    u?.server.closeAllConnections();
    await new Promise((r) => u?.server.close(r));
  }
});

const via = (authority: string, path: string) => `${proxy.url}/http/${authority}${path}`;

test('forwards GET with the headers that matter and adds CORS headers', async () => {
  a.seen.length = 0;
  const r = await fetch(via(a.authority, '/v2/r/manifests/x?n=1'), { headers: { authorization: 'Bearer t', accept: 'application/json', cookie: 'c=1' } });
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('path /v2/r/manifests/x?n=1');
  expect(r.headers.get('access-control-allow-origin')).toBe('*');
  expect(r.headers.get('access-control-expose-headers')).toContain('Docker-Content-Digest');
  expect(r.headers.get('docker-content-digest')).toBe('sha256:ab');
  expect(r.headers.get('etag')).toBe('"e"');
  const h = a.seen[0]!.headers;
  expect(h.authorization).toBe('Bearer t');
  expect(h.accept).toBe('application/json');
  expect(h.cookie).toBeUndefined();
});

test('OPTIONS preflight: 204 with the CORS headers, nothing forwarded', async () => {
  a.seen.length = 0;
  const r = await fetch(via(a.authority, '/v2/'), { method: 'OPTIONS' });
  expect(r.status).toBe(204);
  expect(r.headers.get('access-control-allow-headers')).toBe('Authorization, Accept, Range, Content-Type');
  expect(r.headers.get('access-control-allow-methods')).toContain('GET');
  expect(a.seen).toEqual([]);
});

test('rewrites a bearer realm back through the proxy; a Basic realm stays', async () => {
  const r = await fetch(via(a.authority, '/v2/'));
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe(`Bearer realm="${proxy.url}/http/${b.authority}/token?x=1",service="reg",scope="repository:r:pull"`);
  const basic = await fetch(via(a.authority, '/basic'));
  expect(basic.headers.get('www-authenticate')).toBe('Basic realm="registry"');
});

test('follows a cross-origin redirect without Authorization; same-origin keeps it', async () => {
  a.seen.length = 0;
  b.seen.length = 0;
  const r = await fetch(via(a.authority, '/redirect-other'), { headers: { authorization: 'Bearer secret' } });
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('blob-bytes');
  expect(r.headers.get('x-secret')).toBeNull();
  expect(r.headers.get('set-cookie')).toBeNull();
  expect(a.seen[0]!.headers.authorization).toBe('Bearer secret');
  expect(b.seen[0]!.url).toBe('/blob?sig=1');
  expect(b.seen[0]!.headers.authorization).toBeUndefined();

  a.seen.length = 0;
  const same = await fetch(via(a.authority, '/redirect-same'), { headers: { authorization: 'Bearer secret' } });
  expect(await same.text()).toBe('path /final');
  expect(a.seen.map((s) => s.headers.authorization)).toEqual(['Bearer secret', 'Bearer secret']);
});

test('redirect loops and non-http redirects end in 502', async () => {
  const loop = await fetch(via(a.authority, '/redirect-loop'));
  expect(loop.status).toBe(502);
  expect(await loop.text()).toMatch(/too many redirects/);
  const ftp = await fetch(via(a.authority, '/redirect-ftp'));
  expect(ftp.status).toBe(502);
});

test('HEAD passes Content-Length without a body', async () => {
  const r = await fetch(via(b.authority, '/big'), { method: 'HEAD' });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-length')).toBe(String(BIG));
});

test('streams a large body', async () => {
  const r = await fetch(via(b.authority, '/big'));
  expect(r.headers.get('content-length')).toBe(String(BIG));
  const bytes = new Uint8Array(await r.arrayBuffer());
  expect(bytes.length).toBe(BIG);
  expect(bytes.every((x) => x === 7)).toBe(true);
});

test('a client that stops reading does not break the proxy', async () => {
  await new Promise<void>((resolve, reject) => {
    const req = request(via(b.authority, '/big'), (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('close', resolve);
    setTimeout(() => reject(new Error('timeout')), 5000);
    req.end();
  });
  const r = await fetch(via(a.authority, '/still-alive'));
  expect(await r.text()).toBe('path /still-alive');
});

describe('refuses bad input without crashing', () => {
  test.each([
    ['POST', '/http/HOST/v2/', 415],
    ['DELETE', '/http/HOST/v2/', 405],
    ['PUT', '/http/HOST/v2/', 405],
    ['GET', '/ftp/HOST/x', 400],
    ['GET', '/file/etc/passwd', 400],
    ['GET', '/http/user@HOST/v2/', 400],
    ['GET', '/http/bad%2Fhost/v2/', 400],
    ['GET', '/http/', 400],
    ['GET', '/', 400],
    ['GET', '/http/HOST/LONG', 414],
  ])('%s %s → %d', async (method, path, status) => {
    const r = await fetch(`${proxy.url}${path.replace('HOST', a.authority).replace('LONG', 'a'.repeat(9000))}`, { method });
    expect(r.status).toBe(status);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect((await r.text()).trim().split('\n')).toHaveLength(1);
  });

  test('upstream down → 502 with a short text body', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await fetch(via(`127.0.0.1:${port}`, '/v2/'));
    expect(r.status).toBe(502);
    expect(await r.text()).toBe(`upstream http://127.0.0.1:${port} unreachable: ECONNREFUSED\n`);
  });

  test('a request that loops through the proxy', async () => {
    const self = proxy.url.replace('http://', '');
    const r = await fetch(`${proxy.url}/http/${self}/http/${self}/v2/`);
    expect(r.status).toBe(508);
  });
});

describe('--upstream', () => {
  test('every path goes to the upstream; the realm comes back through the proxy', async () => {
    const r = await fetch(`${upstreamProxy.url}/v2/r/manifests/x`);
    expect(await r.text()).toBe('path /v2/r/manifests/x');
    const challenge = await fetch(`${upstreamProxy.url}/v2/`);
    const realm = /realm="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')![1]!;
    expect(realm).toBe(`${upstreamProxy.url}/http/${b.authority}/token?x=1`);
    // The rewritten realm works; other prefixed hosts are refused.
    const token = await fetch(realm);
    expect(token.status).toBe(200);
    const other = await fetch(`${upstreamProxy.url}/http/127.0.0.1:1/x`);
    expect(other.status).toBe(403);
  });

  test('a bad upstream is refused at start', async () => {
    await expect(startCorsProxy({ host: '127.0.0.1', port: 0, upstream: 'file:///etc' })).rejects.toThrow(/upstream/);
  });
});

test('a form POST (refresh-token grant) is forwarded with its body and gets CORS headers', async () => {
  const bodies: string[] = [];
  const issuer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"access_token":"t"}');
    });
  });
  await new Promise<void>((r) => issuer.listen(0, '127.0.0.1', r));
  try {
    const authority = `127.0.0.1:${(issuer.address() as AddressInfo).port}`;
    const form = 'grant_type=refresh_token&refresh_token=abc&service=reg&client_id=imagemounter';
    const r = await fetch(via(authority, '/token'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(await r.json()).toEqual({ access_token: 't' });
    expect(bodies).toEqual([`POST /token application/x-www-form-urlencoded ${form}`]);
    const big = await fetch(via(authority, '/token'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(bodies).toHaveLength(1);
  } finally {
    await new Promise((r) => issuer.close(r));
  }
});
