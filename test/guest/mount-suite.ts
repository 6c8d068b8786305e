// What every "Linux guest mounts the served tree" acceptance test checks, whatever carries
// the 9P connection (QEMU's user network to serve-9p or diod, or our own virtual network
// behind `imagemounter serve`): the images, the guest-vs-manifest comparison and the
// tests over one guest run. The acceptance files only say how the guest gets connected.
import { expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import type { ManifestEntry } from '../helpers/tree.js';
import { expectedChecks, type CheckOptions, type GuestReport } from './checks.js';
import type { GuestRun } from './qemu.js';

export interface ImageCase {
  name: string;
  /** Layout served by our server; `umoci` is the gzip-only twin diod's tree is unpacked from. */
  layout: (fx: FixtureSet) => { dir: string; tag: string; configDigest: string };
  umoci: (fx: FixtureSet) => { dir: string; tag: string };
  checks: CheckOptions;
  /** process.args the bundle's config.json must carry. */
  args: string[];
}

export const IMAGES: ImageCase[] = [
  {
    name: 'layers',
    layout: (fx) => fx.layers,
    umoci: (fx) => fx.layersUmoci,
    checks: { existingFile: 'etc/passwd', imageShell: '/bin/sh', bigDir: { path: 'many', count: 3000 } },
    args: ['/bin/sh', '-c', 'echo "$GREETING"'],
  },
  {
    name: 'small',
    layout: (fx) => fx.small,
    umoci: (fx) => fx.small,
    checks: { existingFile: 'hello.txt', imageShell: '/bin/busybox sh' },
    args: ['/bin/sh'],
  },
];

/** Field-by-field differences between what the guest saw and the manifest, as readable lines. */
export function diffGuest(guest: GuestReport['entries'], manifest: Map<string, ManifestEntry>, server: string): string[] {
  const diffs: string[] = [];
  for (const p of manifest.keys()) if (!guest.has(p)) diffs.push(`missing ${p}`);
  for (const p of guest.keys()) if (!manifest.has(p)) diffs.push(`unexpected ${p}`);
  for (const [p, exp] of manifest) {
    const act = guest.get(p);
    if (!act) continue;
    // diod serves directories made by the test and umoci for /, /config and /rootfs
    // itself: only the image's own entries and the config files are comparable there.
    const synthetic = server === 'diod' && (p === '/' || p === '/config' || p === '/rootfs');
    const fields: (keyof ManifestEntry)[] = synthetic ? ['type'] : ['type', 'uid', 'gid', 'linkTarget', 'sha256', 'rdev'];
    // Directory size and link count are file-system artefacts (ext4 blocks and subdir
    // counts behind diod), so like the umoci comparison they are compared for the rest only.
    if (exp.type !== 'dir') fields.push('size', 'nlink');
    for (const f of fields) if (act[f] !== exp[f]) diffs.push(`${p}: ${f} ${JSON.stringify(act[f])} != ${JSON.stringify(exp[f])}`);
    if (!synthetic && parseInt(act.mode, 8) !== parseInt(exp.mode, 8)) diffs.push(`${p}: mode ${act.mode} != ${exp.mode}`);
    // stat shows whole seconds; the files diod serves under /config were written by the test.
    const expSeconds = Math.floor(Date.parse(`${exp.mtime.slice(0, 19)}Z`) / 1000);
    if (p.startsWith('/rootfs/') && act.mtimeSeconds !== expSeconds) diffs.push(`${p}: mtime ${act.mtimeSeconds} != ${expSeconds}`);
  }
  return diffs;
}

export interface MountRun {
  run: GuestRun;
  report: GuestReport;
  manifest: Map<string, ManifestEntry>;
  /** The layout that was served, for the config digest. */
  layout: { configDigest: string };
}

/**
 * The tests over one guest run of checksScript(img.checks). `get` is read when the tests
 * run, after the caller's beforeAll booted the guest. `server` is 'diod' for the
 * reference server (see diffGuest), anything else for ours.
 */
export function mountTests(img: ImageCase, server: string, get: () => MountRun): void {
  test('the guest booted, mounted with the VM command and powered off', () => {
    const { run } = get();
    expect(run.exitReason).toBe('poweroff');
    expect(run.mountFailed).toBe(false);
    expect(run.checksStatus).toBe(0);
  });

  test('every entry: type, mode, owner, size, nlink, link target, sha256, rdev, mtime equal the manifest', () => {
    const { report, manifest } = get();
    expect(diffGuest(report.entries, manifest, server)).toEqual([]);
    expect(report.entries.size).toBe(manifest.size);
  });

  test('config.json and imageconfig.json read by the guest', () => {
    const { report, layout } = get();
    expect(`sha256:${report.entries.get('/config/imageconfig.json')?.sha256}`).toBe(layout.configDigest);
    const spec = JSON.parse(report.files.get('config.json') ?? 'null') as { process: { args: string[] }; root: { path: string } };
    expect(spec.process.args).toEqual(img.args);
    expect(spec.root.path).toBe('/run/rootfs');
    expect(JSON.parse(report.files.get('imageconfig.json') ?? 'null')).toMatchObject({ architecture: 'amd64', os: 'linux' });
  });

  test('read-only, ENOENT, directory listing, overlayfs root running an image program', () => {
    const { report } = get();
    const expected = Object.fromEntries(expectedChecks(img.checks).map((n) => [n, 'ok']));
    const got = Object.fromEntries([...report.checks].filter(([n]) => n in expected || report.checks.get(n) !== 'ok'));
    expect(got).toEqual(expected);
  });
}
