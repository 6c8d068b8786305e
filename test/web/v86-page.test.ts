// Issue 8 in a real Chromium: with no ?vm=, the page boots the embedded v86 VM (assets
// from `npm run vm-assets`, served at ./vm/v86/) in a worker, wires its NIC through c2w's
// rings to the mount worker's stack, and its serial console to xterm.js. The 386 fixture
// is pulled from a real registry (CORS, another origin); we type into the container's
// shell and read the terminal. The second load (registry stopped) starts from the boot
// snapshot and from the IndexedDB cache.
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import type { RunImageFixture } from '../../fixtures/vm-images.js';
import { startWebServer, type WebServer } from '../../src/node/web-server.js';
import { ensureVmAssets } from '../../src/vm/index.js';
import { tempDir, removeTempDir } from '../helpers/procs.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';

const SHOTS = join(REPO, '.cache/screenshots');
const BOOT_TIMEOUT = 180_000;

let fx: FixtureSet;
let img: RunImageFixture;
let web: WebServer;
let reg: Registry;
let browser: Browser;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  const assets = await ensureVmAssets({ vm: 'v86' });
  fx = await getFixtures();
  if (!fx.run386) throw new Error('the 386 fixture needs busybox-static:i386 from `npm run vm-assets`');
  img = fx.run386;
  const script = join(REPO, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  const root = await buildWeb({ outdir: join(REPO, '.cache/web-v86-test') });
  web = await startWebServer({ root, extra: { '/vm/v86': join(assets.initrd, '..') } });
  reg = await startRegistry();
  await pushLayout(img.dir, img.tag, reg.host, 'run386:latest');
  await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'small:latest');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  profile = tempDir('v86-page-');
  context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
}, 300_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await reg?.stop().catch(() => undefined);
  await web?.close();
  if (profile) removeTempDir(profile);
});

function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const t = (globalThis as { imagemounterTerminal?: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } }).imagemounterTerminal;
    if (!t) return '';
    const b = t.buffer.active;
    return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? '').join('\n');
  });
}

/** xterm.js's rows and columns, as `stty size` prints them. */
function terminalSize(page: Page): Promise<string> {
  return page.evaluate(() => {
    const t = (globalThis as unknown as { imagemounterTerminal: { rows: number; cols: number } }).imagemounterTerminal;
    return `${t.rows} ${t.cols}`;
  });
}

async function openAndWaitForPrompt(label: string): Promise<{ page: Page; ms: number; status: string }> {
  const page = await context.newPage();
  const log: string[] = [];
  page.on('console', (m) => log.push(m.text()));
  page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
  const t0 = Date.now();
  await page.goto(`${web.url}/?${new URLSearchParams({ image: `${reg.host}/run386:latest` })}`);
  const status = page.locator('#vm-status');
  await page.locator('#vm-status[data-state="running"]').waitFor({ timeout: BOOT_TIMEOUT }).catch(async (e: Error) => {
    throw new Error(`${label}: ${e.message}\npage said: ${await page.locator('main').innerText()}\nterminal:\n${await terminalText(page)}\n${log.join('\n')}`);
  });
  // busybox sh's prompt for a non-root user.
  await expect.poll(() => terminalText(page), { timeout: 60_000 }).toMatch(/\$ $/m);
  return { page, ms: Date.now() - t0, status: await status.innerText() };
}

describe('the page boots the embedded v86 VM when no ?vm= is given', () => {
  test('cold: a shell in the 386 image on the terminal; ls and cat answer from the mounted rootfs', async () => {
    const { page, ms, status } = await openAndWaitForPrompt('cold');
    console.log(`v86 page, cold: prompt after ${ms} ms (${status})`);
    expect(status).toContain('cold boot');
    expect(await page.locator('h1 ~ form [name=platform]').inputValue()).toBe('');
    expect(await page.locator('#status').innerText()).toContain('(linux/386)');
    await page.locator('#terminal').click();
    await page.keyboard.type('ls /; cat /etc/hostname; id -u; pwd\n');
    // pwd answers last, then the next prompt.
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toContain(`\n${img.expect.cwd}\n~/work $`);
    const text = await terminalText(page);
    expect(text).toMatch(/^bin +dev +etc +home +proc +root +run +sys +tmp$/m);
    expect(text).toContain(`\n${img.expect.hostname}\n${img.expect.uid}\n`);
    // The boot snapshot lands in IndexedDB.
    await expect.poll(() => page.locator('#log-list').innerText(), { timeout: 60_000 }).toContain('boot snapshot saved');
    await page.screenshot({ path: join(SHOTS, 'v86-terminal.png'), fullPage: true });
    await page.close();
  }, BOOT_TIMEOUT + 120_000);

  test('an image without a linux/386 variant: says so and points to ?vm= for other architectures', async () => {
    const page = await context.newPage();
    await page.goto(`${web.url}/?${new URLSearchParams({ image: `${reg.host}/small:latest` })}`);
    await page.locator('#error h2').waitFor({ timeout: 30_000 });
    const text = await page.locator('#error').innerText();
    expect(text).toContain('no linux/386 variant');
    expect(text).toContain('linux/amd64');
    expect(text).toContain('&vm=URL');
    await page.close();
  });

  test('reload with the registry stopped: image from IndexedDB, VM from the boot snapshot', async () => {
    await reg.stop();
    const { page, ms, status } = await openAndWaitForPrompt('warm');
    const before = await terminalSize(page);
    console.log(`v86 page, boot snapshot + image from IndexedDB: prompt after ${ms} ms (${status})`);
    expect(status).toContain('from the boot snapshot');
    expect(await page.locator('#log-list').innerText()).toMatch(/cache/i);
    // A smaller window: xterm.js fits its panel again and the container's tty follows.
    await page.setViewportSize({ width: 760, height: 600 });
    const size = () => terminalSize(page);
    await expect.poll(size, { timeout: 10_000 }).not.toBe(before);
    await page.locator('#terminal').click();
    await page.keyboard.type('stty size\n');
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toContain(`\n${await size()}\n`);
    await page.keyboard.type('echo $FOO; exit 3\n');
    await expect.poll(() => page.locator('#vm-status').getAttribute('data-state'), { timeout: 30_000 }).toBe('exited');
    expect(await page.locator('#vm-status').innerText()).toContain('exited with status 3');
    expect(await terminalText(page)).toContain(img.expect.foo);
    await page.screenshot({ path: join(SHOTS, 'v86-terminal-snapshot.png'), fullPage: true });
    await page.close();
  }, BOOT_TIMEOUT + 60_000);
});
