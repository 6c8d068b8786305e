// Registries that require credentials: htpasswd (Basic) and a token service (Bearer with
// a JWT the registry verifies). Credentials come from flags, environment or a Docker
// config file, in that order; none gives a one-line 401 error.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, expectCliError, expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/procs.js';
import { pushLayout, startRegistry, TEST_PASSWORD, TEST_USER, type Registry } from '../helpers/registry.js';

let fx: FixtureSet;
const registries: Partial<Record<'htpasswd' | 'token', Registry>> = {};
let emptyConfig: string;

beforeAll(async () => {
  fx = await getFixtures();
  emptyConfig = tempDir('docker-config-empty');
  for (const auth of ['htpasswd', 'token'] as const) {
    const reg = await startRegistry({ auth });
    registries[auth] = reg;
    await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'private/small:latest', { creds: `${TEST_USER}:${TEST_PASSWORD}` });
  }
});

afterAll(async () => {
  for (const reg of Object.values(registries)) await reg?.stop();
});

describe.each(['htpasswd', 'token'] as const)('%s registry', (auth) => {
  const image = () => `${registries[auth]!.host}/private/small:latest`;
  const cat = (args: string[] = [], env: NodeJS.ProcessEnv = cleanEnv(emptyConfig)) => runCli(['cat', image(), '/hello.txt', ...args], { env });

  test('anonymous pull fails with a one-line 401 message', async () => {
    expectCliError(await cat(), '401');
  });

  test('wrong password fails with 401', async () => {
    expectCliError(await cat(['--username', TEST_USER, '--password', 'wrong']), '401');
  });

  test('--username/--password', async () => {
    expect(expectOk(await cat(['--username', TEST_USER, '--password', TEST_PASSWORD])).stdout).toBe(fx.small.hello);
  });

  test('IMAGEMOUNTER_USERNAME / IMAGEMOUNTER_PASSWORD', async () => {
    const env = cleanEnv(emptyConfig, { IMAGEMOUNTER_USERNAME: TEST_USER, IMAGEMOUNTER_PASSWORD: TEST_PASSWORD });
    expect(expectOk(await cat([], env)).stdout).toBe(fx.small.hello);
  });

  test('DOCKER_CONFIG/config.json auths entry', async () => {
    const dir = tempDir('docker-config');
    mkdirSync(dir, { recursive: true });
    const auths = { [registries[auth]!.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64') } };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths }));
    expect(expectOk(await cat([], cleanEnv(dir))).stdout).toBe(fx.small.hello);
  });

  if (auth === 'token') {
    test('the token is asked for the repository pull scope', async () => {
      const issuer = registries.token!.tokenIssuer!;
      issuer.requests.length = 0;
      expectOk(await cat(['--username', TEST_USER, '--password', TEST_PASSWORD]));
      expect(issuer.requests.some((r) => r.user === TEST_USER && r.scope.includes('repository:private/small:pull'))).toBe(true);
    });
  }
});
