// The hosted page in Chromium (playwright-core, Debian's chromium) pulling a ~50 MiB
// four-layer image from a local docker-registry with CORS: time from navigation start to
// "rootfs served", cold (fresh profile, empty IndexedDB) and warm (the same profile
// reloaded: blobs from IndexedDB), and the pull's throughput against the browser's own
// limit measured in the same page and run: fetch + DecompressionStream('gzip') of the
// same blobs, one after another as openImage pulls layers.
//
// Clocks, all in the browser: navigation start is the page's performance.timeOrigin;
// "served" is performance.now() when the `#summary .served` line appears (a
// MutationObserver added before the page's scripts run); the first layer request is the
// mount worker's Resource Timing entry for the first layer blob (startTime on the
// worker's timeOrigin). Best of RUNS, each run a fresh profile.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../src/node/web-server.js';
import { removeTempDir, tempDir } from '../test/helpers/procs.js';
import { pushLayout, startRegistry, type Registry } from '../test/helpers/registry.js';
import { makeBrowserBenchImage } from './browser-image.js';

const RUNS = 2;
const LIMIT_RUNS = 2;
const MOUNT_TIMEOUT = 60_000;
const REPO_NAME = 'bench';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
// A string, not a function: tsx would wrap a function's inner closures in its __name helper,
// which the page does not have.
const SERVED_PROBE = `
  new MutationObserver((_, obs) => {
    if (document.querySelector('#summary .served')) {
      globalThis.__benchServed = performance.now();
      obs.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
  globalThis.__name ??= (f) => f;
`;

interface Load {
  /** Navigation start → rootfs served. */
  servedSeconds: number;
  /** First layer request → rootfs served; undefined when no layer was requested. */
  pullSeconds?: number;
  /** Navigation start → first layer request. */
  firstLayerSeconds?: number;
  /** Navigation start → the mount worker's time origin. */
  workerSeconds: number;
  layerRequests: number;
  log: string;
}

interface Run {
  cold: Load;
  warm: Load;
  limitSeconds: number;
  limitTarBytes: number;
  chromium: string;
}

const root = fileURLToPath(new URL('../', import.meta.url));
const image = await makeBrowserBenchImage(`${root}.cache/bench/browser/image`);
const blobPath = (digest: string) => `/v2/${REPO_NAME}/blobs/${digest}`;

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Opens the page on `url` and waits for "rootfs served", then reads the clocks of page and worker. */
async function load(context: BrowserContext, url: string): Promise<{ page: Page; load: Load }> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  const served = page.locator('#summary .served');
  const failed = page.locator('#error h2');
  await Promise.race([served.waitFor({ timeout: MOUNT_TIMEOUT }), failed.waitFor({ timeout: MOUNT_TIMEOUT }).then(() => undefined)]);
  if (!(await served.isVisible())) throw new Error(`the page failed: ${await page.locator('#error').innerText()}`);
  const pageClock = await page.evaluate(() => ({ origin: performance.timeOrigin, served: (globalThis as unknown as { __benchServed?: number }).__benchServed }));
  if (pageClock.served === undefined) throw new Error('served line seen but not timed (the probe did not run)');
  const worker = page.workers().find((w) => w.url().includes('mount-worker'));
  if (!worker) throw new Error(`no mount worker among ${page.workers().map((w) => w.url()).join(', ') || 'no workers'}`);
  const workerClock = await worker.evaluate(() => ({
    origin: performance.timeOrigin,
    entries: performance.getEntriesByType('resource').map((e) => ({ name: e.name, start: e.startTime })),
  }));
  const layerPaths = image.layers.map((l) => blobPath(l.digest));
  const layerStarts = workerClock.entries.filter((e) => layerPaths.some((p) => e.name.endsWith(p))).map((e) => workerClock.origin + e.start);
  const servedAt = pageClock.origin + pageClock.served;
  const firstLayer = layerStarts.length > 0 ? Math.min(...layerStarts) : undefined;
  const logEl = page.locator('#log');
  const log = (await logEl.isVisible()) ? await logEl.innerText() : '';
  return {
    page,
    load: {
      servedSeconds: pageClock.served / 1000,
      ...(firstLayer !== undefined ? { pullSeconds: (servedAt - firstLayer) / 1000, firstLayerSeconds: (firstLayer - pageClock.origin) / 1000 } : {}),
      workerSeconds: (workerClock.origin - pageClock.origin) / 1000,
      layerRequests: layerStarts.length,
      log,
    },
  };
}

/** fetch + DecompressionStream('gzip') of every layer blob in turn, read to the end, in the page. */
async function limit(page: Page, urls: string[]): Promise<{ seconds: number; tarBytes: number; blobBytes: number }> {
  return page.evaluate(async (list) => {
    const t0 = performance.now();
    let tarBytes = 0;
    let blobBytes = 0;
    for (const url of list) {
      // no-store: from the registry like a cold pull, never from the HTTP cache.
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
      blobBytes += Number(res.headers.get('content-length') ?? 0);
      const reader = res.body.pipeThrough(new DecompressionStream('gzip')).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        tarBytes += value.byteLength;
      }
    }
    return { seconds: (performance.now() - t0) / 1000, tarBytes, blobBytes };
  }, urls);
}

async function run(web: WebServer, reg: Registry): Promise<Run> {
  const profile = tempDir('browser-bench-profile');
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, viewport: { width: 1200, height: 800 } });
    await context.addInitScript({ content: SERVED_PROBE });
    const url = `${web.url}/?${new URLSearchParams({ image: `${reg.host}/${REPO_NAME}:${image.tag}` })}`;
    const cold = await within(MOUNT_TIMEOUT + 10_000, 'cold load', load(context, url));
    if (cold.load.layerRequests !== image.layers.length) throw new Error(`cold load: ${cold.load.layerRequests} layer requests, expected ${image.layers.length}`);
    await cold.page.close();
    const warm = await within(MOUNT_TIMEOUT + 10_000, 'warm load', load(context, url));
    if (warm.load.layerRequests !== 0) throw new Error(`warm load: ${warm.load.layerRequests} layer requests; expected every blob from IndexedDB`);
    const urls = image.layers.map((l) => `http://${reg.host}${blobPath(l.digest)}`);
    let best: { seconds: number; tarBytes: number; blobBytes: number } | undefined;
    for (let i = 0; i < LIMIT_RUNS; i++) {
      const r = await within(MOUNT_TIMEOUT, 'fetch + DecompressionStream', limit(warm.page, urls));
      if (r.blobBytes !== image.blobBytes) throw new Error(`fetch + DecompressionStream: read ${r.blobBytes} compressed bytes, expected ${image.blobBytes}`);
      if (!best || r.seconds < best.seconds) best = r;
    }
    const ua = await warm.page.evaluate(() => navigator.userAgent);
    const version = /Chrome\/([\d.]+)/.exec(ua)?.[1] ?? ua;
    return { cold: cold.load, warm: warm.load, limitSeconds: best!.seconds, limitTarBytes: best!.tarBytes, chromium: version };
  } finally {
    await context?.close().catch(() => undefined);
    removeTempDir(profile);
  }
}

let web: WebServer | undefined;
let reg: Registry | undefined;
try {
  // A variable specifier: the build script is plain JavaScript without declarations.
  const script = join(root, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  web = await startWebServer({ root: await buildWeb({ outdir: `${root}.cache/bench/browser/web` }) });
  reg = await startRegistry();
  await pushLayout(image.dir, image.tag, reg.host, `${REPO_NAME}:${image.tag}`);
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(web, reg));

  const min = (f: (r: Run) => number) => Math.min(...runs.map(f));
  const cold = runs.reduce((a, b) => (b.cold.servedSeconds < a.cold.servedSeconds ? b : a)).cold;
  const pull = min((r) => r.cold.pullSeconds!);
  const warm = min((r) => r.warm.servedSeconds);
  const lim = min((r) => r.limitSeconds);
  const mib = image.blobBytes / 2 ** 20;
  const mbs = (s: number) => `${(image.blobBytes / 1e6 / s).toFixed(1)} MB/s`;
  const s = (x: number) => `${x.toFixed(2)} s`;
  const said = runs[0]!.warm.log.split('\n').find((l) => /cache|IndexedDB/i.test(l));
  const warmSays = said ? `the page says: "${said.slice(0, 100)}"` : 'the page does not say so';
  console.log(
    `browser pull ${mib.toFixed(1)} MiB: cold ${s(cold.servedSeconds)} (pull ${mbs(pull)}), warm ${s(warm)}; fetch+DecompressionStream ${s(lim)} (${mbs(lim)}) → pull/limit ${(lim / pull).toFixed(2)}×`,
  );
  console.log(`  image: ${image.layers.length} gzip layers (${image.layers.map((l) => (l.size / 2 ** 20).toFixed(1)).join(' + ')} MiB), ${image.entries} tar entries, ${(runs[0]!.limitTarBytes / 2 ** 20).toFixed(0)} MiB of tar; Chromium ${runs[0]!.chromium}, registry on 127.0.0.1 (CORS)`);
  console.log(`  cold: navigation → mount worker ${s(cold.workerSeconds)} → first layer request ${s(cold.firstLayerSeconds!)}, first layer request → rootfs served ${s(cold.pullSeconds!)} (best pull of ${RUNS}: ${s(pull)})`);
  console.log(`  warm: navigation → rootfs served ${s(warm)}, 0 layer requests (blobs from IndexedDB; ${warmSays})`);
  console.log(`  limit: fetch + DecompressionStream('gzip') of the ${image.layers.length} blobs in turn, in the page: ${s(lim)} (best of ${RUNS * LIMIT_RUNS})`);
  console.log(`  runs (cold served / pull / warm / limit): ${runs.map((r) => [r.cold.servedSeconds, r.cold.pullSeconds!, r.warm.servedSeconds, r.limitSeconds].map(s).join(' / ')).join('; ')}`);
} finally {
  await web?.close();
  await reg?.stop();
}

