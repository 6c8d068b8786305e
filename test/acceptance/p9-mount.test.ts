// A real 9P client: Debian's Linux kernel booted under QEMU (TCG) mounts the served tree
// exactly as the c2w VM does, lists and hashes every entry, reads the bundle config,
// builds the VM's overlayfs root and runs a program of the image in it, and probes that
// every change is refused. The test compares what the kernel saw with `manifest`.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { parseManifest, type ManifestEntry } from '../helpers/tree.js';
import { checksScript, expectedChecks, parseReport, type CheckOptions, type GuestReport } from '../guest/checks.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { ensureGuestKernel, type GuestKernel } from '../guest/kernel.js';
import { runGuest, type GuestRun } from '../guest/qemu.js';
import { readBundleConfig, startDiod, startServe9p, unpackForDiod, type Running9p } from '../guest/servers.js';

/**
 * The servers the guest mounts. `serve-9p` is the subject; diod (native, exporting the
 * same tree unpacked by umoci) proves the rig itself. Drop one to run the other alone.
 */
const SERVERS = ['serve-9p', 'diod'] as const;

// Boot + checks take ~10–30 s under TCG on 2 cores; the bound is generous for loaded CI machines.
const GUEST_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 300_000;

interface ImageCase {
  name: string;
  /** Layout served by serve-9p; `umoci` is the gzip-only twin diod's tree is unpacked from. */
  layout: (fx: FixtureSet) => { dir: string; tag: string; configDigest: string };
  umoci: (fx: FixtureSet) => { dir: string; tag: string };
  checks: CheckOptions;
  args: string[];
}

const IMAGES: ImageCase[] = [
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

let fx: FixtureSet;
let kernel: GuestKernel;

beforeAll(async () => {
  [fx, kernel] = await Promise.all([getFixtures(), ensureGuestKernel()]);
});

/** Field-by-field differences between what the guest saw and the manifest, as readable lines. */
function diffGuest(guest: GuestReport['entries'], manifest: Map<string, ManifestEntry>, server: string): string[] {
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

describe.each(IMAGES)('9P mount by a Linux guest: $name', (img) => {
  describe.each(SERVERS)('%s', (server) => {
    let run: GuestRun;
    let report: GuestReport;
    let manifest: Map<string, ManifestEntry>;
    let srv: Running9p | undefined;

    beforeAll(async () => {
      const layout = img.layout(fx);
      manifest = parseManifest(expectOk(await runCli(['manifest', layout.dir])).stdout);
      let aname: string | undefined;
      if (server === 'diod') {
        const u = img.umoci(fx);
        aname = await unpackForDiod(u.dir, u.tag, await readBundleConfig(layout.dir));
        srv = await startDiod(aname);
      } else {
        srv = await startServe9p(layout.dir);
      }
      const initrd = await buildInitramfs({ kernel, checks: checksScript(img.checks), aname });
      run = await runGuest({ kernel: kernel.vmlinuz, initrd, serve9p: { host: '127.0.0.1', port: srv.port }, timeoutMs: GUEST_TIMEOUT_MS });
      if (run.exitReason !== 'poweroff' || run.checks === undefined) {
        throw new Error(`guest ${run.exitReason} after ${run.wallMs} ms${run.mountFailed ? ' (mount failed)' : ''}:\n${run.output.slice(-4000)}\nserver:\n${srv.output()}`);
      }
      report = parseReport(run.checks);
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await srv?.stop();
    });

    test('the guest booted, mounted with the VM command and powered off', () => {
      expect(run.exitReason).toBe('poweroff');
      expect(run.mountFailed).toBe(false);
      expect(run.checksStatus).toBe(0);
    });

    test('every entry: type, mode, owner, size, nlink, link target, sha256, rdev, mtime equal the manifest', () => {
      expect(diffGuest(report.entries, manifest, server)).toEqual([]);
      expect(report.entries.size).toBe(manifest.size);
    });

    test('config.json and imageconfig.json read by the guest', () => {
      const layout = img.layout(fx);
      expect(`sha256:${report.entries.get('/config/imageconfig.json')?.sha256}`).toBe(layout.configDigest);
      const spec = JSON.parse(report.files.get('config.json') ?? 'null') as { process: { args: string[] }; root: { path: string } };
      expect(spec.process.args).toEqual(img.args);
      expect(spec.root.path).toBe('/run/rootfs');
      expect(JSON.parse(report.files.get('imageconfig.json') ?? 'null')).toMatchObject({ architecture: 'amd64', os: 'linux' });
    });

    test('read-only, ENOENT, directory listing, overlayfs root running an image program', () => {
      const expected = Object.fromEntries(expectedChecks(img.checks).map((n) => [n, 'ok']));
      const got = Object.fromEntries([...report.checks].filter(([n]) => n in expected || report.checks.get(n) !== 'ok'));
      expect(got).toEqual(expected);
    });
  });
});
