// Issue 7's hosted page in a real Chromium (playwright-core): pull from a real registry
// (CORS on) and from an OCI layout served beside the page, browse the rootfs, and say in
// plain words what is wrong when CORS, auth or the reference fail; reload offline from
// IndexedDB. Screenshots go to .cache/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { startCorsProxy } from '../../src/node/cors-proxy.js';
import { startWebServer, type WebServer } from '../../src/node/web-server.js';
import { runCli } from '../helpers/cli.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { pushLayout, startRegistry, TEST_PASSWORD, TEST_USER, type Registry } from '../helpers/registry.js';

const SHOTS = join(REPO, '.cache/screenshots');
const MOUNT_TIMEOUT = 30_000;

let fx: FixtureSet;
let web: WebServer;
let reg: Registry;
let browser: Browser;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  fx = await getFixtures();
  // A variable specifier: the build script is plain JavaScript without declarations.
  const script = join(REPO, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  const root = await buildWeb({ outdir: join(REPO, '.cache/web-test') });
  web = await startWebServer({ root, extra: { '/layouts/layers': fx.layers.dir, '/layouts/small': fx.small.dir } });
  cleanup.push(() => web.close());
  reg = await startRegistry();
  cleanup.push(() => reg.stop());
  await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'small:latest');
  await pushLayout(fx.layers.dir, fx.layers.tag, reg.host, 'layers:latest');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  cleanup.push(() => browser.close());
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function openPage(query: Record<string, string>, context?: BrowserContext): Promise<{ page: Page; context: BrowserContext }> {
  context ??= await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${web.url}/?${new URLSearchParams(query)}`);
  return { page, context };
}

async function mounted(page: Page): Promise<string> {
  const served = page.locator('#summary .served');
  await served.waitFor({ timeout: MOUNT_TIMEOUT }).catch(async (e: Error) => {
    throw new Error(`${e.message}\npage said: ${await page.locator('main').innerText()}`);
  });
  await page.locator('#listing li').first().waitFor();
  return served.innerText();
}

async function errorText(page: Page): Promise<string> {
  await page.locator('#error h2').waitFor({ timeout: MOUNT_TIMEOUT });
  return page.locator('#error').innerText();
}

/** The listing shown, without the `..` entry. */
async function listing(page: Page): Promise<{ name: string; type: string; target?: string }[]> {
  return page.locator('#listing li').evaluateAll((lis) =>
    lis
      .map((li) => (li as HTMLElement).dataset)
      .filter((d) => d.name !== '..')
      .map((d) => ({ name: d.name!, type: d.type!, ...(d.target !== undefined ? { target: d.target } : {}) })),
  );
}

async function expectSameAsLs(page: Page, ref: string, path: string): Promise<void> {
  const shown = await listing(page);
  const ls = await runCli(['ls', ref, path]);
  expect(ls.code, ls.stderr).toBe(0);
  const lines = ls.stdout.split('\n').filter(Boolean);
  expect(shown.length).toBe(lines.length);
  shown.forEach((e, i) => expect(lines[i]!.endsWith(` ${e.name}${e.type === 'symlink' ? ` -> ${e.target}` : ''}`), `${lines[i]} vs ${e.name}`).toBe(true));
}

describe('hosted page', () => {
  test('pulls from a registry, shows progress, browses the rootfs like `imagemounter ls`', async () => {
    const { page, context } = await openPage({ image: `${reg.host}/small:latest` });
    const served = await mounted(page);
    expect(served).toMatch(/^rootfs served: \d+ entries, fetched \d+ of \d+ bytes/);
    const total = fx.small.layers.reduce((n, l) => n + l.size, 0);
    expect(served).toContain(`fetched ${total} of ${total} bytes`);
    expect(await page.locator('#summary').innerText()).toContain('no VM image given: see README for container2wasm VMs (?vm=)');
    // One row per layer, finished and marked as pulled whole.
    await expect.poll(() => page.locator('#progress tbody tr').count()).toBe(fx.small.layers.length);
    expect(await page.locator('#progress tbody tr .state').first().innerText()).toBe('full');
    expect(await page.locator('#progress-total').innerText()).toMatch(/^total: .* in 1 layer\(s\), .*\/s$/);
    await page.locator('#progress').screenshot({ path: join(SHOTS, 'progress-panel.png') });

    expect((await listing(page)).map((e) => e.name)).toEqual(['bin', 'hello.txt']);
    await expectSameAsLs(page, `${reg.host}/small:latest`, '/');
    await page.locator('#listing li[data-name="hello.txt"] a').click();
    await expect.poll(() => page.locator('#viewer pre').textContent().catch(() => '')).toBe(fx.small.hello);
    await page.screenshot({ path: join(SHOTS, 'file-browser-text.png'), fullPage: true });
    // A binary shows as a hex dump of its first 64 KiB.
    await page.locator('#listing li[data-name="bin"] a').click();
    await page.locator('#listing li[data-name="busybox"] a').click();
    await expect.poll(() => page.locator('#viewer pre.hex').innerText().catch(() => '')).toMatch(/^00000000  7f 45 4c 46 /);
    expect(await page.locator('#viewer .hint').innerText()).toContain('first 64 KiB shown');
    await page.screenshot({ path: join(SHOTS, 'file-browser-hex.png') });
    await context.close();
  });

  test('multi-layer image: directory listings equal `imagemounter ls`, symlink targets shown', async () => {
    const ref = `${reg.host}/layers:latest`;
    const { page, context } = await openPage({ image: ref });
    await mounted(page);
    await expectSameAsLs(page, ref, '/');
    await page.locator('#listing li[data-name="etc"] a').click();
    await expect.poll(() => page.locator('#listing').getAttribute('data-path')).toBe('/etc');
    await expectSameAsLs(page, ref, '/etc');
    const links = (await listing(page)).filter((e) => e.type === 'symlink');
    for (const l of links) expect(await page.locator(`#listing li[data-name="${l.name}"] .target`).innerText()).toBe(` → ${l.target}`);
    await page.locator('#browser').screenshot({ path: join(SHOTS, 'file-browser.png') });
    await context.close();
  });

  test('pulls an OCI layout served beside the page', async () => {
    const { page, context } = await openPage({ image: `${web.url}/layouts/layers` });
    await mounted(page);
    await expectSameAsLs(page, `${reg.host}/layers:latest`, '/');
    await context.close();
  });

  test('a registry without CORS headers: names the headers and the cors-proxy', async () => {
    const bare = await startRegistry({ cors: false });
    try {
      await pushLayout(fx.small.dir, fx.small.tag, bare.host, 'small:latest');
      const { page, context } = await openPage({ image: `${bare.host}/small:latest` });
      const text = await errorText(page);
      expect(text).toContain('CORS');
      for (const h of ['Access-Control-Allow-Origin', 'Access-Control-Allow-Headers', 'Access-Control-Expose-Headers', 'Content-Range', 'Docker-Content-Digest', 'WWW-Authenticate']) {
        expect(text).toContain(h);
      }
      expect(text).toContain('imagemounter cors-proxy');
      expect(text).toContain('proxy=');
      await page.screenshot({ path: join(SHOTS, 'cors-error.png') });
      await context.close();
    } finally {
      await bare.stop();
    }
  });

  test('a missing reference: 404 naming the ref', async () => {
    const ref = `${reg.host}/nosuch/image:v9`;
    const { page, context } = await openPage({ image: ref });
    const text = await errorText(page);
    expect(text).toContain(`Not found (404): ${ref}`);
    await context.close();
  });

  test('a registry asking for credentials: 401 says where to give them; given in the page, the pull works', async () => {
    const locked = await startRegistry({ auth: 'htpasswd' });
    try {
      await pushLayout(fx.small.dir, fx.small.tag, locked.host, 'small:latest', { creds: `${TEST_USER}:${TEST_PASSWORD}` });
      const { page, context } = await openPage({ image: `${locked.host}/small:latest` });
      const text = await errorText(page);
      expect(text).toContain('401');
      expect(text).toContain('under "Registry credentials" at the top');
      expect(text).toContain('imagemounter pull');
      // This registry answers preflights with 401 too: the page says to use the cors-proxy.
      expect(text).toContain('answers the browser\'s CORS preflight (OPTIONS) with 401');
      const proxy = await startCorsProxy({ host: '127.0.0.1', port: 0 });
      try {
        await page.goto(`${web.url}/?${new URLSearchParams({ image: `${locked.host}/small:latest`, proxy: proxy.url })}`);
        expect(await errorText(page)).toContain('asks for credentials (401 Unauthorized)');
        // Wrong password: the page says the credentials were refused.
        await page.locator('#creds summary').click();
        await page.locator('#creds-form [name=username]').fill(TEST_USER);
        await page.locator('#creds-form [name=password]').fill('wrong');
        await Promise.all([page.waitForNavigation(), page.locator('#creds-form button[type=submit]').click()]);
        expect(await errorText(page)).toContain('refused the credentials given');
        expect(page.url()).not.toContain('wrong');
        await page.locator('#creds summary').click();
        await page.locator('#creds-form [name=password]').fill(TEST_PASSWORD);
        await Promise.all([page.waitForNavigation(), page.locator('#creds-form button[type=submit]').click()]);
        expect(await mounted(page)).toMatch(/^rootfs served/);
      } finally {
        await proxy.close();
      }
      expect(page.url()).not.toContain(TEST_PASSWORD);
      await context.close();
    } finally {
      await locked.stop();
    }
  });

  test('no matching platform: lists the platforms there are', async () => {
    const { page, context } = await openPage({ image: `${reg.host}/small:latest`, platform: 'linux/s390x' });
    const text = await errorText(page);
    expect(text).toContain('no variant for the requested platform');
    expect(text).toContain('linux/amd64');
    await context.close();
  });

  test('reload with the registry gone: served from IndexedDB, and the page says so', async () => {
    const gone = await startRegistry();
    let stopped = false;
    try {
      await pushLayout(fx.small.dir, fx.small.tag, gone.host, 'small:latest');
      const { page, context } = await openPage({ image: `${gone.host}/small:latest` });
      await mounted(page);
      await gone.stop();
      stopped = true;
      await page.reload();
      await mounted(page);
      const log = await page.locator('#log').innerText();
      expect(log).toMatch(/offline.*using the cached copy/);
      await page.locator('#listing li[data-name="hello.txt"] a').click();
      await expect.poll(() => page.locator('#viewer pre').textContent().catch(() => '')).toBe(fx.small.hello);
      await page.screenshot({ path: join(SHOTS, 'offline-reload.png'), fullPage: true });
      await context.close();
    } finally {
      if (!stopped) await gone.stop();
    }
  });
});
