// `imagemounter cors-proxy` in front of a real registry that sends no CORS headers (like
// Docker Hub), with token auth whose realm is on another origin (the token issuer).
// The proxy must answer preflights, add CORS headers, rewrite the realm back through
// itself, pass byte ranges, and the CLI and library must pull through it unchanged.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { resolveImage } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, expectCliError, expectOk } from '../helpers/cli-expect.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { spawnTracked, stopProcess, tempDir } from '../helpers/procs.js';
import { pushLayout, startRegistry, TEST_PASSWORD, TEST_USER, type Registry } from '../helpers/registry.js';

let fx: FixtureSet;
let reg: Registry;
let proxyChild: ChildProcess;
let proxyUrl: string;
let emptyConfig: string;

const image = () => `${reg.host}/private/small:latest`;
const creds = ['--username', TEST_USER, '--password', TEST_PASSWORD];
const basic = `Basic ${Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64')}`;
const via = (path: string) => `${proxyUrl}/http/${reg.host}${path}`;

/** Starts `imagemounter cors-proxy` and waits for its "listening URL" line. */
async function startProxyCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const { child, output } = spawnTracked(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cors-proxy', ...args], { cwd: REPO });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = /^listening (http:\/\/\S+)$/m.exec(output());
    if (m) return { child, url: m[1]! };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cors-proxy did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function token(): Promise<string> {
  // Through the proxy, as a page would: the realm from the proxied challenge.
  const challenge = await fetch(via('/v2/'));
  await challenge.arrayBuffer();
  const header = challenge.headers.get('www-authenticate') ?? '';
  const realm = /realm="([^"]+)"/.exec(header)![1]!;
  const service = /service="([^"]+)"/.exec(header)![1]!;
  const url = new URL(realm);
  url.searchParams.set('service', service);
  url.searchParams.set('scope', 'repository:private/small:pull');
  const res = await fetch(url, { headers: { authorization: basic } });
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  fx = await getFixtures();
  emptyConfig = tempDir('docker-config-empty');
  reg = await startRegistry({ auth: 'token', cors: false });
  await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'private/small:latest', { creds: `${TEST_USER}:${TEST_PASSWORD}` });
  const p = await startProxyCli(['--listen', 'tcp:127.0.0.1:0']);
  proxyChild = p.child;
  proxyUrl = p.url;
});

afterAll(async () => {
  if (proxyChild) await stopProcess(proxyChild);
  await reg?.stop();
});

test('the registry itself sends no CORS headers and a realm on another origin', async () => {
  const r = await fetch(`http://${reg.host}/v2/`);
  await r.arrayBuffer();
  expect(r.status).toBe(401);
  expect(r.headers.get('access-control-allow-origin')).toBeNull();
  expect(r.headers.get('www-authenticate')).toContain(`realm="${reg.tokenIssuer!.realm}"`);
  expect(new URL(reg.tokenIssuer!.realm).origin).not.toBe(`http://${reg.host}`);
});

test('an OPTIONS preflight gets the CORS headers', async () => {
  const r = await fetch(via('/v2/private/small/manifests/latest'), {
    method: 'OPTIONS',
    headers: { origin: 'https://page.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, range' },
  });
  expect(r.status).toBe(204);
  expect(r.headers.get('access-control-allow-origin')).toBe('*');
  expect(r.headers.get('access-control-allow-headers')).toBe('Authorization, Accept, Range, Content-Type');
  expect(r.headers.get('access-control-allow-methods')).toMatch(/GET/);
});

test('GET /v2/ → 401 with CORS headers and the realm rewritten through the proxy', async () => {
  const r = await fetch(via('/v2/'), { headers: { origin: 'https://page.example' } });
  await r.arrayBuffer();
  expect(r.status).toBe(401);
  expect(r.headers.get('access-control-allow-origin')).toBe('*');
  expect(r.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  const issuer = new URL(reg.tokenIssuer!.realm);
  expect(r.headers.get('www-authenticate')).toContain(`realm="${proxyUrl}/http/${issuer.host}${issuer.pathname}"`);
  expect(r.headers.get('www-authenticate')).toContain(`service="${reg.tokenIssuer!.service}"`);
});

test('imagemounter manifest --proxy equals the direct pull', async () => {
  const env = cleanEnv(emptyConfig);
  const direct = expectOk(await runCli(['manifest', image(), ...creds], { env }));
  const proxied = expectOk(await runCli(['manifest', image(), '--proxy', proxyUrl, ...creds], { env }));
  expect(proxied.stdout.length).toBeGreaterThan(0);
  expect(proxied.stdout).toBe(direct.stdout);
});

test('the library with PullOptions.proxy sends every request, the token one included, through the proxy', async () => {
  const seen: string[] = [];
  const image = await resolveImage(`${reg.host}/private/small:latest`, {
    proxy: proxyUrl,
    credentials: () => ({ username: TEST_USER, password: TEST_PASSWORD }),
    fetch: (input, init) => {
      seen.push(input);
      return fetch(input, init);
    },
  });
  expect(image.layers.length).toBeGreaterThan(0);
  expect(seen.length).toBeGreaterThan(2);
  for (const u of seen) expect(u.startsWith(`${proxyUrl}/http/`)).toBe(true);
  expect(seen.some((u) => u.includes('/token?'))).toBe(true);
});

test('a Range request through the proxy → 206 with Content-Range exposed', async () => {
  const authorization = `Bearer ${await token()}`;
  const m = await fetch(via('/v2/private/small/manifests/latest'), {
    headers: { authorization, accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  expect(m.status).toBe(200);
  expect(m.headers.get('docker-content-digest')).toMatch(/^sha256:/);
  const layer = ((await m.json()) as { layers: { digest: string; size: number }[] }).layers[0]!;
  const r = await fetch(via(`/v2/private/small/blobs/${layer.digest}`), { headers: { authorization, range: 'bytes=0-9' } });
  const body = new Uint8Array(await r.arrayBuffer());
  expect(r.status).toBe(206);
  expect(r.headers.get('content-range')).toBe(`bytes 0-9/${layer.size}`);
  expect(r.headers.get('access-control-allow-origin')).toBe('*');
  expect(r.headers.get('access-control-expose-headers')).toContain('Content-Range');
  expect(body.length).toBe(10);
});

test('upstream down → 502, a one-line CLI error', async () => {
  const port = await deadPort();
  const r = await fetch(`${proxyUrl}/http/127.0.0.1:${port}/v2/`);
  expect(r.status).toBe(502);
  expect(r.headers.get('access-control-allow-origin')).toBe('*');
  expect(await r.text()).toMatch(/^upstream http:\/\/127\.0\.0\.1:\d+ unreachable: ECONNREFUSED\n$/);
  // The client retries 502 with backoff (about 8–16 s) before giving up.
  const cli = await runCli(['manifest', `127.0.0.1:${port}/small:latest`, '--proxy', proxyUrl], { env: cleanEnv(emptyConfig) });
  expectCliError(cli, '502');
}, 60_000);

describe('the cors-proxy command', () => {
  test('--upstream: the proxy stands in for the registry, realm included', async () => {
    const p = await startProxyCli(['--listen', 'tcp:127.0.0.1:0', '--upstream', `http://${reg.host}`]);
    try {
      const challenge = await fetch(`${p.url}/v2/`);
      await challenge.arrayBuffer();
      expect(challenge.headers.get('access-control-allow-origin')).toBe('*');
      expect(challenge.headers.get('www-authenticate')).toContain(`realm="${p.url}/http/${new URL(reg.tokenIssuer!.realm).host}/token"`);
      // 127.0.0.1:PORT of the proxy is the "registry" now.
      const ref = `${p.url.replace('http://', '')}/private/small:latest`;
      const direct = expectOk(await runCli(['manifest', image(), ...creds], { env: cleanEnv(emptyConfig) }));
      const proxied = expectOk(await runCli(['manifest', ref, ...creds], { env: cleanEnv(emptyConfig) }));
      expect(proxied.stdout).toBe(direct.stdout);
    } finally {
      await stopProcess(p.child);
    }
    expect(p.child.exitCode).toBe(0);
  });

  test('usage errors', async () => {
    expect((await runCli(['cors-proxy', 'alpine'])).code).toBe(2);
    expect((await runCli(['manifest', 'alpine', '--upstream', 'http://x'])).code).toBe(2);
    expectCliError(await runCli(['cors-proxy', '--listen', 'unix:/tmp/x.sock']), 'tcp:HOST:PORT');
    expectCliError(await runCli(['cors-proxy', '--listen', 'tcp:127.0.0.1:0', '--upstream', 'ftp://x']), 'upstream');
    expect((await runCli(['--help'])).stdout).toContain('cors-proxy [--listen tcp:HOST:PORT] [--upstream URL]');
  });
});
