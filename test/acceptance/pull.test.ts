// Pull the `layers` fixture from a real registry (OCI and Docker schema 2 manifests)
// and check the served tree against umoci's unpack of the same layers, entry by entry.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { run, tempDir } from '../helpers/procs.js';
import { pushLayoutRaw } from '../helpers/push-raw.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';
import { diffTrees, parseManifest, walkDir, type ManifestEntry } from '../helpers/tree.js';
import { readServedFile } from './served.js';

let fx: FixtureSet;
let reg: Registry;
let reference: Map<string, ManifestEntry>;
const manifests = new Map<string, Promise<Map<string, ManifestEntry>>>();

/** One `manifest` run per image, shared by the tests that read it. */
function manifestOf(ref: string): Promise<Map<string, ManifestEntry>> {
  let m = manifests.get(ref);
  if (!m) {
    m = runCli(['manifest', ref]).then((r) => parseManifest(expectOk(r).stdout));
    manifests.set(ref, m);
  }
  return m;
}

const rootfsOnly = (m: Map<string, ManifestEntry>) => new Map([...m].filter(([p]) => p.startsWith('/rootfs/')));

beforeAll(async () => {
  fx = await getFixtures();
  reg = await startRegistry();
  // Byte-exact push: skopeo would gzip the uncompressed layer on its way to a registry.
  await pushLayoutRaw(fx.layers.dir, fx.layers.tag, reg.host, 'layers:oci');
  // Schema 2 cannot carry zstd layers, so the Docker copy is made from the gzip twin.
  await pushLayout(fx.layersUmoci.dir, fx.layersUmoci.tag, reg.host, 'layers:v2s2', { format: 'v2s2' });
  // Debian's umoci 0.4.7 cannot read zstd layers: it unpacks the gzip twin, whose tars are
  // byte-identical (same diff_ids). Run as root, so device nodes, owners and
  // security.capability are created for real (no --rootless needed here).
  const bundle = join(tempDir('umoci'), 'bundle');
  await run('umoci', ['unpack', '--image', `${fx.layersUmoci.dir}:${fx.layersUmoci.tag}`, bundle]);
  reference = await walkDir(join(bundle, 'rootfs'));
});

afterAll(async () => {
  await reg?.stop();
});

describe.each([
  ['OCI manifest', 'layers:oci'],
  ['Docker schema 2 manifest', 'layers:v2s2'],
])('%s', (_name, repoTag) => {
  test('rootfs equals umoci unpack (paths, types, modes, owners, sizes, targets, sha256, nlink, rdev, mtime)', async () => {
    const served = await manifestOf(`${reg.host}/${repoTag}`);
    expect(diffTrees(rootfsOnly(served), reference)).toEqual([]);
  });

  test('route root: /, /rootfs, /config/config.json, /config/imageconfig.json', async () => {
    const served = await manifestOf(`${reg.host}/${repoTag}`);
    for (const p of ['/', '/rootfs', '/config']) expect(served.get(p)?.type, p).toBe('dir');
    expect(served.get('/config/config.json')?.type).toBe('reg');
    // imageconfig.json is the config blob byte for byte, so its hash is the config digest.
    expect(`sha256:${served.get('/config/imageconfig.json')?.sha256}`).toBe(fx.layers.configDigest);
    expect([...served.keys()].filter((p) => !p.startsWith('/rootfs/')).sort()).toEqual(
      ['/', '/config', '/config/config.json', '/config/imageconfig.json', '/rootfs'],
    );
  });
});

describe('layer semantics (facts umoci cannot show, from the fixture)', () => {
  const ref = () => `${reg.host}/layers:oci`;

  test('xattrs from PAX SCHILY.xattr.* records, binary security.capability intact', async () => {
    const served = await manifestOf(ref());
    for (const [path, xattrs] of Object.entries(fx.layers.expect.xattrs)) expect(served.get(path)?.xattrs, path).toEqual(xattrs);
    expect(served.get('/rootfs/etc/passwd')?.xattrs ?? {}).toEqual({});
  });

  test('whiteouts, opaque dir, replaced files, hard links, symlinks, PAX mtime', async () => {
    const served = await manifestOf(ref());
    for (const p of fx.layers.expect.absent) expect(served.has(p), p).toBe(false);
    for (const [p, text] of Object.entries(fx.layers.expect.contents)) {
      expect(served.get(p)?.sha256, p).toBe(createHash('sha256').update(text).digest('hex'));
    }
    for (const group of fx.layers.expect.hardLinks) for (const p of group) expect(served.get(p)?.nlink, p).toBe(group.length);
    for (const [p, target] of Object.entries(fx.layers.expect.symlinks)) expect(served.get(p)?.linkTarget, p).toBe(target);
    for (const [p, mtime] of Object.entries(fx.layers.expect.mtimes)) expect(served.get(p)?.mtime, p).toBe(mtime);
    const { big, manyDir } = fx.layers.expect;
    expect(served.get(big.path)).toMatchObject({ size: big.size, sha256: big.sha256 });
    expect([...served.keys()].filter((p) => p.startsWith(`${manyDir.path}/`)).length).toBe(manyDir.count);
  });

  test('inspect --json: digests, media types of gzip, zstd and uncompressed layers, config', async () => {
    const r = expectOk(await runCli(['inspect', ref(), '--json']));
    const info = JSON.parse(r.stdout);
    expect(info.manifestDigest).toBe(fx.layers.manifestDigest);
    expect(info.manifestMediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(info.platform).toBe('linux/amd64');
    expect(info.layers).toEqual(fx.layers.layers.map(({ digest, mediaType, size }) => ({ digest, mediaType, size })));
    expect(info.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.v1.tar',
    ]);
    expect(info.config.config).toMatchObject(fx.layers.config);
  });

  test('inspect --json of the schema 2 copy reports the Docker media type', async () => {
    const info = JSON.parse(expectOk(await runCli(['inspect', `${reg.host}/layers:v2s2`, '--json'])).stdout);
    expect(info.manifestMediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    // skopeo may reuse the plain-tar blob already in the registry (…diff.tar) or gzip it.
    for (const l of info.layers as { mediaType: string }[]) expect(l.mediaType).toMatch(/^application\/vnd\.docker\.image\.rootfs\.diff\.tar(\.gzip)?$/);
  });

  test('cat and ls read the merged rootfs', async () => {
    const passwd = expectOk(await runCli(['cat', ref(), '/etc/passwd']));
    expect(passwd.stdout).toBe(fx.layers.expect.contents['/rootfs/etc/passwd']);
    const ls = expectOk(await runCli(['ls', ref(), '/opaque']));
    expect(ls.stdout).toContain('new');
    expect(ls.stdout).not.toContain('old1');
    const missing = await runCli(['cat', ref(), '/gone.txt']);
    expect(missing.code).not.toBe(0);
  });

  test('config/config.json: process from Entrypoint+Cmd, Env, WorkingDir, User resolved via /etc/passwd and /etc/group', async () => {
    const served = await manifestOf(ref());
    const bytes = await readServedFile(ref(), '/config/config.json');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(served.get('/config/config.json')?.sha256);
    const spec = JSON.parse(new TextDecoder().decode(bytes));
    const c = fx.layers.config as { Entrypoint: string[]; Cmd: string[]; Env: string[]; WorkingDir: string };
    expect(spec.process.args).toEqual([...c.Entrypoint, ...c.Cmd]);
    expect(spec.process.env).toEqual(expect.arrayContaining(c.Env));
    expect(spec.process.cwd).toBe(c.WorkingDir);
    const { uid, gid, additionalGids } = fx.layers.expect.user;
    expect(spec.process.user).toMatchObject({ uid, gid });
    expect(spec.process.user.additionalGids).toEqual(expect.arrayContaining(additionalGids));
    expect(spec.process.terminal).toBe(true);
    expect(spec.root.path).toBe('/run/rootfs');
    expect((spec.linux?.namespaces ?? []).some((n: { type: string }) => n.type === 'network')).toBe(false);
  });
});
