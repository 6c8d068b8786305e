// Broken transfers between the client and a real registry, injected by a proxy: the
// client must verify digests, resume dropped downloads with Range, retry 429s, and
// report everything else in one line naming what failed.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectCliError, expectOk } from '../helpers/cli-expect.js';
import { blobGet, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { getFixtures } from '../helpers/fixtures.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';

let fx: FixtureSet;
let reg: Registry;
let proxy: FaultProxy;
let layer: string;

beforeAll(async () => {
  fx = await getFixtures();
  reg = await startRegistry();
  await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'small:latest');
  proxy = await startFaultProxy(reg.host);
  layer = fx.small.layers[0]!.digest;
});

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

beforeEach(() => proxy.clear());

const cat = () => runCli(['cat', `${proxy.host}/small:latest`, '/hello.txt']);
const blobGets = () => proxy.log.filter((r) => r.method === 'GET' && r.path.includes(`/blobs/${layer}`));

describe('fault injection between client and registry', () => {
  test('the proxy passes a clean pull through', async () => {
    expect(expectOk(await cat()).stdout).toBe(fx.small.hello);
  });

  test('a blob with a wrong digest (gzip still valid) fails with an error naming the digest', async () => {
    // Byte 4 is the gzip header's MTIME, which decoders ignore: only the digest check can notice.
    proxy.add({ kind: 'corrupt', offset: 4, times: 100, match: blobGet(layer) });
    expectCliError(await cat(), layer);
  });

  test('a blob corrupted inside the compressed data fails with an error naming the digest', async () => {
    // Here the decompressor trips before the digest is known; the user still needs to know which blob.
    proxy.add({ kind: 'corrupt', offset: 5000, times: 100, match: blobGet(layer) });
    expectCliError(await cat(), layer);
  });

  test('a blob truncated once (short but "complete" response) is completed with Range', async () => {
    proxy.add({ kind: 'truncate', keepBytes: 300_000, times: 1, match: blobGet(layer) });
    expect(expectOk(await cat()).stdout).toBe(fx.small.hello);
    expect(blobGets().slice(1).some((g) => /^bytes=[1-9]\d*-/.test(g.range ?? '')), JSON.stringify(blobGets())).toBe(true);
  });

  test('a blob that is always truncated fails, naming the blob', async () => {
    proxy.add({ kind: 'truncate', keepBytes: 4096, times: 100, match: blobGet(layer) });
    expectCliError(await cat(), layer);
  });

  test('a connection dropped mid-blob is resumed with Range and the pull succeeds', async () => {
    proxy.add({ kind: 'drop', afterBytes: 200_000, times: 1, match: blobGet(layer) });
    expect(expectOk(await cat()).stdout).toBe(fx.small.hello);
    const gets = blobGets();
    expect(gets[0]?.fault).toBe('drop');
    // Resuming means asking for the rest, not the whole blob again.
    expect(gets.slice(1).some((g) => /^bytes=[1-9]\d*-/.test(g.range ?? '')), JSON.stringify(gets)).toBe(true);
  });

  test('429 twice on the manifest, then success', async () => {
    proxy.add({ kind: 'status', status: 429, times: 2, match: '/manifests/' });
    expect(expectOk(await cat()).stdout).toBe(fx.small.hello);
    expect(proxy.log.filter((r) => r.status === 429).length).toBe(2);
  });

  test('429 twice on a blob, then success', async () => {
    proxy.add({ kind: 'status', status: 429, times: 2, match: blobGet(layer) });
    expect(expectOk(await cat()).stdout).toBe(fx.small.hello);
  });

  test('a 404 blob fails with a not-found message', async () => {
    proxy.add({ kind: 'status', status: 404, times: 100, match: blobGet(layer) });
    expectCliError(await cat(), /not found|404/i);
  });

  test('an unknown tag fails with a not-found message', async () => {
    expectCliError(await runCli(['cat', `${proxy.host}/small:no-such-tag`, '/hello.txt']), /not found|404/i, 'no-such-tag');
  });

  test('an unknown repository fails with a not-found message', async () => {
    expectCliError(await runCli(['inspect', `${proxy.host}/nothing/here:latest`]), /not found|404/i);
  });
});
