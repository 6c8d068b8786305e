// src/node: the file: fetch and credential lookup (kept here with the oci tests they serve).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeFetch, nodeCredentials } from '../../src/node/index.js';

const root = mkdtempSync(join(tmpdir(), 'oci-node-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('createNodeFetch', () => {
  const file = join(root, 'data.bin');
  writeFileSync(file, '0123456789');
  const url = pathToFileURL(file).href;
  const f = createNodeFetch(async (u) => new Response(`passed ${u}`));

  it('serves whole files and 404s', async () => {
    const res = await f(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('10');
    expect(await res.text()).toBe('0123456789');
    expect((await f(pathToFileURL(join(root, 'missing')).href)).status).toBe(404);
    expect((await f(pathToFileURL(root).href)).status).toBe(404);
    expect((await f(pathToFileURL(join(file, 'sub')).href)).status).toBe(404);
  });

  it('answers byte ranges with 206', async () => {
    const get = async (range: string) => {
      const res = await f(url, { headers: { range } });
      return [res.status, res.headers.get('content-range'), await res.text()];
    };
    expect(await get('bytes=2-4')).toEqual([206, 'bytes 2-4/10', '234']);
    expect(await get('bytes=7-')).toEqual([206, 'bytes 7-9/10', '789']);
    expect(await get('bytes=-3')).toEqual([206, 'bytes 7-9/10', '789']);
    expect(await get('bytes=8-100')).toEqual([206, 'bytes 8-9/10', '89']);
    expect(await get('bytes=10-')).toEqual([416, 'bytes */10', '']);
  });

  it('passes other URLs to the base fetch', async () => {
    expect(await (await f('https://example.test/x')).text()).toBe('passed https://example.test/x');
  });
});

describe('nodeCredentials', () => {
  const dockerDir = join(root, 'docker');
  mkdirSync(dockerDir);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  writeFileSync(
    join(dockerDir, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'ghcr.io': { username: 'gh', password: 'ghp' },
        'https://quay.io': { identitytoken: 'idt' },
      },
      credsStore: 'desktop',
    }),
  );
  const cfg = join(dockerDir, 'config.json');

  it('prefers explicit flags, then the environment, then docker config', async () => {
    expect(await nodeCredentials({ username: 'u', password: 'p', env: {}, dockerConfigPath: cfg })('any.host')).toEqual({ username: 'u', password: 'p' });
    expect(await nodeCredentials({ env: { IMAGEMOUNTER_USERNAME: 'e', IMAGEMOUNTER_PASSWORD: 'ep' }, dockerConfigPath: cfg })('ghcr.io')).toEqual({ username: 'e', password: 'ep' });
    const emptyEnv = nodeCredentials({ env: { IMAGEMOUNTER_USERNAME: '', IMAGEMOUNTER_PASSWORD: '' }, dockerConfigPath: cfg });
    expect(await emptyEnv('ghcr.io')).toEqual({ username: 'gh', password: 'ghp' });
    const lookup = nodeCredentials({ env: {}, dockerConfigPath: cfg });
    expect(await lookup('docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await lookup('ghcr.io')).toEqual({ username: 'gh', password: 'ghp' });
    expect(await lookup('quay.io')).toEqual({ token: 'idt' });
  });

  it('finds $DOCKER_CONFIG, notes credential helpers once, and tolerates no config', async () => {
    const warnings: string[] = [];
    const lookup = nodeCredentials({ env: { DOCKER_CONFIG: dockerDir }, logger: { warn: (m) => warnings.push(m) } });
    expect(await lookup('docker.io')).toMatchObject({ username: 'hubuser' });
    expect(await lookup('other.example')).toBeUndefined();
    expect(await lookup('other.example')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/"desktop" credential helper/);
    expect(await nodeCredentials({ env: { HOME: join(root, 'nohome') } })('docker.io')).toBeUndefined();
  });
});
