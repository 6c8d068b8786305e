// A multi-platform image index pushed with `skopeo copy --all`: the platform flag picks
// the manifest, and an absent platform fails with the list of those available.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectCliError, expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';

let fx: FixtureSet;
let reg: Registry;

beforeAll(async () => {
  fx = await getFixtures();
  reg = await startRegistry();
  await pushLayout(fx.multiarch.dir, fx.multiarch.tag, reg.host, 'multi:latest', { all: true });
});

afterAll(async () => {
  await reg?.stop();
});

// Registry and local layout directory resolve an index the same way.
const sources = () => [
  ['registry', `${reg.host}/multi:latest`],
  ['layout dir', fx.multiarch.dir],
] as const;

describe('platform selection', () => {
  test.each([
    [undefined, 'linux/amd64'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/riscv64', 'linux/riscv64'],
  ])('--platform %s serves %s', async (flag, want) => {
    for (const [, image] of sources()) {
      const args = ['cat', image, '/arch', ...(flag ? ['--platform', flag] : [])];
      expect(expectOk(await runCli(args)).stdout, image).toBe(`${want}\n`);
    }
  });

  test('inspect --json names the index, the chosen manifest and every platform', async () => {
    const info = JSON.parse(expectOk(await runCli(['inspect', `${reg.host}/multi:latest`, '--platform', 'linux/arm64/v8', '--json'])).stdout);
    expect(info.indexDigest).toBe(fx.multiarch.indexDigest);
    expect(info.manifestDigest).toBe(fx.multiarch.platforms.find((p) => p.platform === 'linux/arm64/v8')?.manifestDigest);
    expect(info.platform).toBe('linux/arm64/v8');
    expect([...info.availablePlatforms].sort()).toEqual(fx.multiarch.platforms.map((p) => p.platform).sort());
  });

  test('an absent platform fails and lists the available ones', async () => {
    for (const [, image] of sources()) {
      const r = await runCli(['cat', image, '/arch', '--platform', 'linux/s390x']);
      expectCliError(r, 'linux/s390x', 'linux/amd64', 'linux/arm64/v8', 'linux/riscv64');
    }
  });
});
