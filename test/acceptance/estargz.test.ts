// Lazy pulling of eStargz from a real registry: the `layers` fixture converted with
// `imagemounter convert`, pushed with skopeo, then read through a logging proxy so the
// tests can count the Range requests and bytes a lazy read really costs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectCliError, expectOk } from '../helpers/cli-expect.js';
import { startFaultProxy, type FaultProxy, type LoggedRequest } from '../helpers/fault-proxy.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { run, tempDir } from '../helpers/procs.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { parseManifest, type ManifestEntry } from '../helpers/tree.js';

const TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';
const CHUNK = 1 << 20;

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

let fx: FixtureSet;
let reg: Registry;
let proxy: FaultProxy;
let out: string;
/** Layers of the converted layout, as `convert` wrote them. */
let layers: Desc[];
const blobSizes = new Map<string, number>();

const ref = () => `${proxy.host}/layers:estargz`;
const blobGets = (log: LoggedRequest[] = proxy.log) =>
  log.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path) && layers.some((l) => r.path.endsWith(`/blobs/${l.digest}`)));

/** Bytes a logged blob GET asked for: its Range (`a-b`, `a-`, `-n`), or the whole blob without one. */
function requestedBytes(r: LoggedRequest): number {
  const size = blobSizes.get(r.path.slice(r.path.lastIndexOf('/') + 1))!;
  const m = /^bytes=(\d*)-(\d*)$/.exec(r.range ?? '');
  if (!m) return size;
  if (!m[1]) return Math.min(size, Number(m[2]));
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return Math.max(0, end - start + 1);
}

function readJsonBlob<T>(layout: string, digest: string): T {
  return JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8')) as T;
}

beforeAll(async () => {
  fx = await getFixtures();
  out = join(tempDir('estargz'), 'layout');
  expectOk(await runCli(['convert', fx.layers.dir, '--out', out, '--chunk-size', String(CHUNK)]));
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const manifest = readJsonBlob<{ layers: Desc[] }>(out, index.manifests[0]!.digest);
  layers = manifest.layers;
  for (const l of layers) blobSizes.set(l.digest, l.size);
  reg = await startRegistry();
  // --preserve-digests: skopeo must neither recompress nor re-encode the manifest (a
  // recompressed layer loses its TOC footer and the annotations would point nowhere).
  await run('skopeo', [
    'copy', '--insecure-policy', '--quiet', '--dest-tls-verify=false', '--retry-times', '2', '--preserve-digests',
    `oci:${out}:latest`, `docker://${reg.host}/layers:estargz`,
  ]);
  proxy = await startFaultProxy(reg.host);
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

beforeEach(() => proxy.clear());

describe('eStargz conversion pushed with skopeo', () => {
  test('the pushed manifest keeps the layers and their toc.digest annotations', async () => {
    expect(layers.length).toBe(fx.layers.layers.length);
    for (const l of layers) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(l.annotations?.[TOC_DIGEST], l.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const r = await fetch(`http://${reg.host}/v2/layers/manifests/estargz`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(r.status).toBe(200);
    const pushed = (await r.json()) as { layers: Desc[] };
    expect(pushed.layers.map(({ digest, size, annotations }) => ({ digest, size, toc: annotations?.[TOC_DIGEST] }))).toEqual(
      layers.map(({ digest, size, annotations }) => ({ digest, size, toc: annotations?.[TOC_DIGEST] })),
    );
  });
});

describe('lazy pull of the eStargz image through the registry', () => {
  test('manifest equals the original layout (mtimes to whole seconds; imageconfig.json differs only in diff_ids)', async () => {
    const lazy = parseManifest(expectOk(await runCli(['manifest', ref()])).stdout);
    const original = parseManifest(expectOk(await runCli(['manifest', fx.layers.dir])).stdout);
    const norm = (m: Map<string, ManifestEntry>) =>
      new Map(
        [...m].filter(([p]) => p !== '/config/imageconfig.json').map(([p, e]) => [p, { ...e, mtime: e.mtime.slice(0, 19) }]),
      );
    // toEqual on Maps would print a whole tree on failure: diff entry by entry instead.
    const a = norm(lazy);
    const b = norm(original);
    const diffs: string[] = [];
    for (const p of b.keys()) if (!a.has(p)) diffs.push(`missing ${p}`);
    for (const [p, e] of a) {
      const o = b.get(p);
      if (!o) diffs.push(`unexpected ${p}`);
      else if (JSON.stringify(e) !== JSON.stringify(o)) diffs.push(`${p}: ${JSON.stringify(e)} != ${JSON.stringify(o)}`);
    }
    expect(diffs).toEqual([]);
    // The config blob is rewritten only where the layers changed: rootfs.diff_ids.
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Desc[] };
    const manifest = readJsonBlob<{ config: Desc }>(out, index.manifests[0]!.digest);
    expect(`sha256:${lazy.get('/config/imageconfig.json')?.sha256}`).toBe(manifest.config.digest);
    const strip = (c: { rootfs: { diff_ids: string[] } }) => ({ ...c, rootfs: { ...c.rootfs, diff_ids: c.rootfs.diff_ids.length } });
    expect(strip(readJsonBlob(out, manifest.config.digest))).toEqual(strip(readJsonBlob(fx.layers.dir, fx.layers.configDigest)));
  }, 240_000); // one Range request per small file (3000): about 20 ms each, more on a loaded machine

  test('cat of a small file costs a few Range requests and a small fraction of the blobs', async () => {
    const r = expectOk(await runCli(['cat', ref(), '/etc/passwd']));
    expect(r.stdout).toBe(fx.layers.expect.contents['/rootfs/etc/passwd']);
    const gets = blobGets();
    const total = layers.reduce((n, l) => n + l.size, 0);
    const fetched = gets.reduce((n, g) => n + requestedBytes(g), 0);
    const summary = JSON.stringify(gets.map((g) => `${g.path.slice(-12)} ${g.range} ${g.status}`));
    expect(gets.every((g) => g.range && g.status === 206), summary).toBe(true);
    // Per layer: footer (+ TOC, maybe a second request), and the chunks of /etc/passwd and /etc/group.
    expect(gets.length, summary).toBeLessThanOrEqual(3 * layers.length);
    expect(fetched / total, `${fetched} of ${total} bytes: ${summary}`).toBeLessThan(0.05);
    console.log(`cat /etc/passwd: ${gets.length} blob range requests, ${fetched} of ${total} blob bytes (${((fetched / total) * 100).toFixed(2)}%)`);
  });

  test('pull prints the fetched line with a small percentage', async () => {
    const r = expectOk(await runCli(['pull', ref()]));
    const m = /^fetched (\d+) of (\d+) layer bytes \(([\d.]+)%\), (\d+) range requests$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [, fetched, total, pct, requests] = m!.map(Number) as [number, number, number, number, number];
    expect(total).toBe(layers.reduce((n, l) => n + l.size, 0));
    expect(pct).toBeLessThan(5);
    expect(fetched).toBeLessThan(total * 0.05);
    expect(r.stdout.match(/ lazy /g)?.length).toBe(layers.length);
    // What the client counted is what went over the wire (registry-side log).
    const gets = blobGets();
    expect(requests).toBe(gets.length);
    expect(fetched).toBe(gets.reduce((n, g) => n + requestedBytes(g), 0));
  });

  test('cat of the 24 MiB file gives the right sha256', async () => {
    const { big } = fx.layers.expect;
    const raw = await catRaw(big.path.slice('/rootfs'.length));
    expect(raw.length).toBe(big.size);
    expect(createHash('sha256').update(raw).digest('hex')).toBe(big.sha256);
    const gets = blobGets();
    // Each chunk fetched once: no more than the blobs hold (plus footers and TOCs).
    const fetched = gets.reduce((n, g) => n + requestedBytes(g), 0);
    expect(fetched).toBeLessThan(layers.reduce((n, l) => n + l.size, 0) * 1.1);
  });

  test('a corrupted chunk fails cat of that file with one line naming the digest; other files still read', async () => {
    // Learn which Range requests reading big.bin makes beyond what reading /etc/passwd makes.
    expectOk(await runCli(['cat', ref(), '/etc/passwd']));
    const small = new Set(blobGets().map((g) => `${g.path} ${g.range}`));
    proxy.clear();
    await catRaw('/data/big.bin');
    const bigOnly = blobGets().filter((g) => !small.has(`${g.path} ${g.range}`));
    expect(bigOnly.length).toBeGreaterThan(0);
    // The middle of the file: random data, so gzip stored it raw and a flipped byte
    // decompresses fine — only the chunk digest can catch it.
    const target = bigOnly[Math.floor(bigOnly.length / 2)]!;
    const layerDigest = target.path.slice(target.path.lastIndexOf('/') + 1);
    proxy.clear();
    proxy.add({
      kind: 'corrupt',
      offset: 4096,
      times: 1000,
      match: (req) => req.method === 'GET' && req.url === target.path && req.headers.range === target.range,
    });
    const r = await runCli(['cat', ref(), '/data/big.bin']);
    // A flipped byte in stored deflate data is caught by the chunk's gzip CRC (before the
    // TOC chunkDigest check); either way the line must name the layer.
    const line = expectCliError(r, layerDigest);
    expect(proxy.log.some((g) => g.fault === 'corrupt'), JSON.stringify(proxy.log)).toBe(true);
    console.log(`corrupted ${layerDigest.slice(0, 19)}… ${target.range}: ${line}`);
    // Other files of the same layer are unaffected.
    const passwd = expectOk(await runCli(['cat', ref(), '/etc/passwd']));
    expect(passwd.stdout).toBe(fx.layers.expect.contents['/rootfs/etc/passwd']);
    const many = expectOk(await runCli(['cat', ref(), '/many/f0042']));
    expect(many.stdout).toBe('42\n');
  });
});

/** `cat` with stdout kept as bytes (runCli decodes UTF-8, which would mangle binary data). */
async function catRaw(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // --no-cache: every read must reach the registry, as the other runs of this file do.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cat', '--no-cache', ref(), path], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const outChunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => outChunks.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(outChunks)) : reject(new Error(`cat ${path} exited ${code}: ${err.trim()}`))));
  });
}
