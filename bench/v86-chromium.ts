// The hosted page in Chromium booting the embedded v86 VM (no ?vm=) for the 386 run
// fixture served as a layout by the page's own server: navigation start → container
// started (#vm-status data-state="running") → shell prompt in xterm.js, read in the page
// on its own clock (performance.now(), origin = navigation start). Cold: a fresh browser
// context (empty IndexedDB); snapshot: a second load in the same context, which restores
// the boot snapshot the first load saved in IndexedDB (and finds the blobs there).
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startWebServer, type WebServer } from '../src/node/web-server.js';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TIMEOUT_MS = 240_000;
// A string, not a function: tsx would wrap a function's closures in its __name helper,
// which the page does not have. The prompt: busybox sh's `$ ` at the end of a line.
const PROBE = `
  globalThis.__v86Bench = {};
  new MutationObserver(() => {
    const s = document.querySelector('#vm-status');
    const b = globalThis.__v86Bench;
    if (s && s.getAttribute('data-state') === 'running' && b.running === undefined) b.running = performance.now();
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'] });
  const poll = setInterval(() => {
    const t = globalThis.imagemounterTerminal;
    const b = globalThis.__v86Bench;
    if (!t || b.running === undefined) return;
    // Only the cursor's line: scanning the whole scrollback every 20 ms would load the
    // page's thread, on a machine where the VM's worker needs every cycle.
    const buf = t.buffer.active;
    const line = buf.getLine(buf.baseY + buf.cursorY)?.translateToString(true) ?? '';
    if (/\\$ ?$/.test(line)) { b.prompt = performance.now(); clearInterval(poll); }
  }, 20);
`;

export interface PageLoad {
  /** Navigation start → container started. */
  runningSeconds: number;
  /** Navigation start → prompt in the terminal. */
  promptSeconds: number;
  status: string;
}

export interface ChromiumTiming {
  cold: PageLoad;
  snapshot: PageLoad;
  chromium: string;
}

async function load(context: BrowserContext, url: string, waitForSnapshotSaved: boolean): Promise<PageLoad> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    const handle = await page.waitForFunction(
      () => {
        const b = (globalThis as unknown as { __v86Bench?: { prompt?: number } }).__v86Bench;
        const failed = document.querySelector('#vm-status')?.getAttribute('data-state') === 'failed';
        return failed ? 'failed' : b?.prompt !== undefined ? 'prompt' : false;
      },
      undefined,
      { timeout: TIMEOUT_MS, polling: 100 },
    );
    const status = await page.locator('#vm-status').innerText();
    if ((await handle.jsonValue()) === 'failed') throw new Error(`the page's VM failed: ${status}`);
    const b = await page.evaluate(() => (globalThis as unknown as { __v86Bench: { running: number; prompt: number } }).__v86Bench);
    // The next load restores the snapshot only once IndexedDB holds it.
    if (waitForSnapshotSaved) await page.locator('#log-list', { hasText: 'boot snapshot saved' }).waitFor({ timeout: 60_000 });
    return { runningSeconds: b.running / 1000, promptSeconds: b.prompt / 1000, status };
  } finally {
    await page.close();
  }
}

export async function measureChromium(opts: { webRoot: string; vmAssetsDir: string; layoutDir: string }): Promise<ChromiumTiming> {
  let web: WebServer | undefined;
  let browser: Browser | undefined;
  try {
    web = await startWebServer({ root: opts.webRoot, extra: { '/vm/v86': opts.vmAssetsDir, '/layouts/run386': opts.layoutDir } });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
    // A fresh context: empty IndexedDB, so the first load boots cold and saves the snapshot.
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    await context.addInitScript({ content: PROBE });
    const url = `${web.url}/?${new URLSearchParams({ image: `${web.url}/layouts/run386` })}`;
    const cold = await load(context, url, true);
    const snapshot = await load(context, url, false);
    return { cold, snapshot, chromium: browser.version() };
  } finally {
    await browser?.close().catch(() => undefined);
    await web?.close();
  }
}
