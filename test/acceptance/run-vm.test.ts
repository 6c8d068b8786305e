// `imagemounter run`: the container of a fixture image runs in a VM booted from Debian's
// packages, over our virtual network and 9P mount, on the serial console; what it prints
// shows the image config was applied (user, working directory, environment), and its
// exit status is the command's. v86 (in-process, linux/386) and QEMU (TCG, linux/amd64).
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FixtureSet, RunImageFixture } from '../../fixtures/generate.js';
import { mountImage } from '../../src/index.js';
import { createNodeFetch, nodeCodecs } from '../../src/node/index.js';
import { ensureVmAssets, runInVm } from '../../src/vm/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { getFixtures } from '../helpers/fixtures.js';

// v86 boots cold in 16–45 s on 2 shared cores, QEMU in ~10 s; a restored v86 snapshot in a few.
const RUN_TIMEOUT_MS = 240_000;
const SETUP_TIMEOUT_MS = 300_000;

const SHOW = 'id; pwd; cat /etc/os-release; echo "$FOO"';

let fx: FixtureSet;

beforeAll(async () => {
  // Assets first: they bring busybox-static:i386, the 386 fixture's userland.
  await ensureVmAssets({ vm: 'v86' });
  await ensureVmAssets({ vm: 'qemu' });
  fx = await getFixtures();
}, SETUP_TIMEOUT_MS);

function explain(r: CliResult): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-6000)}`;
}

function expectConfigApplied(r: CliResult, img: RunImageFixture): void {
  expect(r.code, explain(r)).toBe(0);
  const e = img.expect;
  // Exactly the container's output: no boot log, no markers, plain \n line ends.
  expect(r.stdout, explain(r)).toBe(`uid=${e.uid}(${e.user}) gid=${e.gid}(${e.user})\n${e.cwd}\n${e.osRelease}${e.foo}\n`);
}

describe.each([
  { vm: 'v86', image: (f: FixtureSet) => f.run386 },
  { vm: 'qemu', image: (f: FixtureSet) => f.runAmd64 },
])('imagemounter run --vm $vm', ({ vm, image }) => {
  it(
    "runs the command given after -- with the image config's user, working directory and environment",
    async () => {
      const img = image(fx);
      expect(img, 'the 386 fixture needs busybox-static:i386 (npm run vm-assets)').toBeDefined();
      const r = await runCli(['run', img!.dir, '--vm', vm, '--', '/bin/sh', '-c', SHOW]);
      expectConfigApplied(r, img!);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "returns the container's exit status as its own",
    async () => {
      const r = await runCli(['run', image(fx)!.dir, '--vm', vm, '--debug', '--', '/bin/sh', '-c', 'echo bye; exit 7']);
      expect(r.code, explain(r)).toBe(7);
      expect(r.stdout).toBe('bye\n');
      // The first v86 run saved the boot snapshot: this one starts from it.
      if (vm === 'v86') expect(r.stderr).toContain('v86: restored at');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'gives a host terminal\'s size to the container, and each change of it (SIGWINCH)',
    async () => {
      const img = image(fx)!;
      const session = await mountImage({ image: img.dir, platform: img.platform, fetch: createNodeFetch(), codecs: nodeCodecs() });
      // A terminal as Node has one: raw mode, rows/columns, a 'resize' event.
      const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
      const stdout = Object.assign(new PassThrough(), { rows: 30, columns: 90 });
      let text = '';
      stdout.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('before:') && stdout.rows === 30) {
          Object.assign(stdout, { rows: 41, columns: 123 });
          stdout.emit('resize');
        }
      });
      const args = ['/bin/sh', '-c', 'echo before: $(stty size); trap "echo got WINCH" WINCH; sleep 5; echo after: $(stty size)'];
      const assets = await ensureVmAssets({ vm: vm as 'v86' | 'qemu' });
      const status = await runInVm({ session, assets, args, stdin, stdout });
      expect(status, text).toBe(0);
      expect(text.replace(/\r/g, '')).toMatch(/before: 30 90\n(.*\n)*got WINCH\nafter: 41 123\n/);
    },
    RUN_TIMEOUT_MS,
  );
});
