// The embedded v86 VM sees exactly what `imagemounter manifest` says: the guest of
// `imagemounter run` (i386 kernel, virtio-net, our stack and 9P server) walks the whole
// bundle it mounted — before the container starts, through GoLine.probe — with the same
// find/stat/sha256sum/readlink walk as the 9P acceptance tests, and every entry must
// equal the manifest of the 386 fixture.
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { mountImage } from '../../src/mount.js';
import { createNodeFetch, nodeCodecs } from '../../src/node/index.js';
import { ensureVmAssets, runInVm, type VmAssets } from '../../src/vm/index.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { parseManifest, type ManifestEntry } from '../helpers/tree.js';
import { parseReport, walkScript, type GuestReport } from '../guest/checks.js';
import { diffGuest } from '../guest/mount-suite.js';

// A cold v86 boot takes 16–45 s on 2 shared cores (a restored boot snapshot a few); the
// walk of the small fixture ~10 s more.
const RUN_TIMEOUT_MS = 240_000;

let fx: FixtureSet;
let assets: VmAssets;
let manifest: Map<string, ManifestEntry>;
let report: GuestReport;
let status: number;
let stdout = '';

beforeAll(async () => {
  // Assets first: they bring busybox-static:i386, the 386 fixture's userland.
  assets = await ensureVmAssets({ vm: 'v86' });
  fx = await getFixtures();
  const img = fx.run386;
  if (!img) throw new Error('the 386 fixture needs busybox-static:i386 (npm run vm-assets)');
  manifest = parseManifest(expectOk(await runCli(['manifest', img.dir, '--platform', 'linux/386'])).stdout);
  const session = await mountImage({ image: img.dir, platform: 'linux/386', fetch: createNodeFetch(), codecs: nodeCodecs() });
  let walk: string | undefined;
  try {
    status = await runInVm({
      session,
      assets,
      args: ['/bin/sh', '-c', 'echo container ran'],
      stdout: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          stdout += chunk.toString();
          callback();
        },
      }),
      probe: { command: walkScript(), onOutput: (text) => (walk = text) },
    });
  } finally {
    session.close();
  }
  if (walk === undefined) throw new Error('the guest printed no walk');
  report = parseReport(walk);
}, RUN_TIMEOUT_MS);

describe('the v86 guest walking its 9P mount of the 386 fixture', () => {
  it('walked the mount, then ran the container as usual', () => {
    expect(status).toBe(0);
    expect(stdout).toBe('container ran\n');
  });

  it('sees every entry of `imagemounter manifest`: type, mode, owner, size, nlink, link target, sha256, rdev, mtime', () => {
    expect(diffGuest(report.entries, manifest, 'serve')).toEqual([]);
    expect(report.entries.size).toBe(manifest.size);
    // The walk covered the image, not just the bundle's skeleton.
    expect(report.entries.get('/rootfs/bin/busybox')?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.entries.get('/rootfs/bin/sh')?.linkTarget).toBe('busybox');
  });
});
