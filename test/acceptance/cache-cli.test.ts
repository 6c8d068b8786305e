// The CLI's pull cache, end to end: an image pulled over HTTP lands in the cache dir,
// `cache ls` lists it, a pull with the server gone still works and says it is offline,
// and `cache clear` empties it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

describe('imagemounter cache', () => {
  const cacheHome = mkdtempSync(join(tmpdir(), 'imagemounter-cli-cache-'));
  const env = { XDG_CACHE_HOME: cacheHome };
  let server: StaticServer | undefined;
  let url: string;

  beforeAll(async () => {
    const fx = await getFixtures();
    server = await startStaticServer(fx.small.dir);
    url = server.url;
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(cacheHome, { recursive: true, force: true });
  });

  it('fills on pull, serves offline and says so, lists and clears', async () => {
    const online = expectOk(await runCli(['manifest', url], { env }));
    const listed = expectOk(await runCli(['cache', 'ls'], { env })).stdout;
    expect(listed).toMatch(/^blob /m);
    expect(listed).toMatch(/^manifest /m);

    await server!.stop();
    server = undefined;
    const offline = await runCli(['manifest', url], { env });
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe(online.stdout);
    expect(offline.stderr).toMatch(/offline .*using the cached copy/);

    expectOk(await runCli(['cache', 'clear'], { env }));
    expect(expectOk(await runCli(['cache', 'ls'], { env })).stdout).toMatch(/^0 entries/m);
    const gone = await runCli(['manifest', url], { env });
    expect(gone.code).not.toBe(0);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
  });
});
