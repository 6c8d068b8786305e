// OCI Image Layouts read from a local directory and over plain HTTP (a static server
// with Range support), including the malformed and hostile layouts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectCliError, expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { run, tempDir } from '../helpers/procs.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';
import { diffTrees, parseManifest, walkDir, type ManifestEntry } from '../helpers/tree.js';

let fx: FixtureSet;
let web: StaticServer;
let reference: Map<string, ManifestEntry>;

beforeAll(async () => {
  fx = await getFixtures();
  web = await startStaticServer(fx.root);
  const bundle = join(tempDir('umoci'), 'bundle');
  // umoci reads the gzip twin (it cannot read zstd); the tars are identical.
  await run('umoci', ['unpack', '--image', `${fx.layersUmoci.dir}:${fx.layersUmoci.tag}`, bundle]);
  reference = await walkDir(join(bundle, 'rootfs'));
});

afterAll(async () => {
  await web?.stop();
});

const url = (name: string) => `${web.url}/${name}`;
const rootfsOnly = (m: Map<string, ManifestEntry>) => new Map([...m].filter(([p]) => p.startsWith('/rootfs/')));

describe('layout sources', () => {
  test.each([
    ['local directory', () => fx.layers.dir],
    ['HTTP URL', () => url('layers')],
  ])('%s: rootfs equals umoci unpack', async (_name, image) => {
    const served = parseManifest(expectOk(await runCli(['manifest', image()])).stdout);
    expect(diffTrees(rootfsOnly(served), reference)).toEqual([]);
    expect(`sha256:${served.get('/config/imageconfig.json')?.sha256}`).toBe(fx.layers.configDigest);
  });

  test('HTTP layout with #tag and a platform from a nested index', async () => {
    const r = expectOk(await runCli(['cat', `${url('multiarch')}#${fx.multiarch.tag}`, '/arch', '--platform', 'linux/riscv64']));
    expect(r.stdout).toBe('linux/riscv64\n');
  });

  test('absolute member names are stored relative to the rootfs', async () => {
    expect(expectOk(await runCli(['cat', fx.absolute.dir, '/abs/file'])).stdout).toBe(fx.absolute.content);
  });
});

describe('bad input', () => {
  test.each([
    ['local', () => fx.badIndex.dir],
    ['HTTP', () => url('bad-index')],
  ])('%s: index.json that is not JSON', async (_name, image) => {
    expectCliError(await runCli(['inspect', image()]), /index\.json|json/i);
  });

  test('manifest blob that is not JSON (digest correct)', async () => {
    expectCliError(await runCli(['inspect', url('bad-manifest')]), /manifest|json/i);
  });

  test('manifest blob replaced on the server: digest mismatch names the digest', async () => {
    const path = `/layers/blobs/sha256/${fx.layers.manifestDigest.slice(7)}`;
    const original = readFileSync(join(fx.layers.dir, 'blobs/sha256', fx.layers.manifestDigest.slice(7)), 'utf8');
    web.override(path, { body: original.replace('"schemaVersion":2', '"schemaVersion":2 ') });
    try {
      expectCliError(await runCli(['inspect', url('layers')]), fx.layers.manifestDigest);
    } finally {
      web.override(path, undefined);
    }
  });

  test('garbage served as index.json over HTTP', async () => {
    web.override('/small/index.json', { body: '<html>not a layout</html>' });
    try {
      expectCliError(await runCli(['inspect', url('small')]), /index\.json|json/i);
    } finally {
      web.override('/small/index.json', undefined);
    }
  });

  test('a layout URL that does not exist: not found', async () => {
    expectCliError(await runCli(['inspect', url('no-such-layout')]), /not found|404/i);
  });

  test('unsupported layer media type is named', async () => {
    expectCliError(await runCli(['manifest', fx.badMediaType.dir]), fx.badMediaType.mediaType);
  });

  test('a `../` member name is refused with BAD_PATH naming it', async () => {
    const line = expectCliError(await runCli(['manifest', fx.hostile.dir]), fx.hostile.badName);
    expect(line).toMatch(/BAD_PATH|outside|escape|\.\./);
  });
});
