// Issue 7's acceptance of the page's VM wiring in a real Chromium: the native QEMU Linux
// guest's NIC connects to `imagemounter web --vm-bridge`'s socket, the bridge carries its
// frame stream over a WebSocket into the page (`?vm=ws://…`), the page moves it through
// c2w's SharedArrayBuffer rings (as a c2w VM worker would) to the mount worker's stack,
// which pulled the image from a real registry on another origin (CORS). The guest mounts
// the rootfs over 9P and walks it; the walk must equal `imagemounter manifest`.
// The emscripten path is the same guest behind a stand-in for c2w's emscripten runtime
// (no QEMU-wasm image can be built here): an out.js that opens the socket emscripten's
// SOCKFS opens, `new WebSocket(Module.websocket.url)`, which msw's ws.link answers in
// the page, and relays it to the bridge.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { startVmBridge, type VmBridge } from '../../src/node/vm-bridge.js';
import { startWebServer, type WebServer } from '../../src/node/web-server.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';
import { parseManifest } from '../helpers/tree.js';
import { checksScript, parseReport } from '../guest/checks.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { ensureGuestKernel, type GuestKernel } from '../guest/kernel.js';
import { IMAGES, mountTests, type MountRun } from '../guest/mount-suite.js';
import { requireChecks, runGuest } from '../guest/qemu.js';

const SHOTS = join(REPO, '.cache/screenshots');
const EMSCRIPTEN_DIR = join(REPO, '.cache/web-vm-test-emscripten');
const GUEST_TIMEOUT_MS = 240_000;
const img = IMAGES.find((i) => i.name === 'small')!;

let fx: FixtureSet;
let kernel: GuestKernel;
let web: WebServer;
let reg: Registry;
let browser: Browser;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [fx, kernel] = await Promise.all([getFixtures(), ensureGuestKernel()]);
  const script = join(REPO, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  const root = await buildWeb({ outdir: join(REPO, '.cache/web-vm-test') });
  mkdirSync(EMSCRIPTEN_DIR, { recursive: true });
  web = await startWebServer({ root, extra: { '/qemu-wasm': EMSCRIPTEN_DIR } });
  cleanup.push(() => web.close());
  reg = await startRegistry();
  cleanup.push(() => reg.stop());
  await pushLayout(fx.small.dir, fx.small.tag, reg.host, 'small:latest');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  cleanup.push(() => browser.close());
}, 120_000);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function vmLinkOpen(page: Page): Promise<void> {
  await page.locator('#summary .served').waitFor({ timeout: 30_000 });
  await page.locator('#vm-status[data-state="open"]').waitFor({ timeout: 10_000 }).catch(async (e: Error) => {
    throw new Error(`${e.message}\npage said: ${await page.locator('main').innerText()}`);
  });
}

describe('?vm=ws:// — the native guest mounts the page-pulled rootfs through c2w rings', () => {
  let result: MountRun;
  let bridge: VmBridge;
  let page: Page;
  const pageLog: string[] = [];

  beforeAll(async () => {
    const ref = `${reg.host}/small:latest`;
    const manifest = parseManifest(expectOk(await runCli(['manifest', ref])).stdout);
    bridge = await startVmBridge({ vm: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
    cleanup.push(() => bridge.close());
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.on('console', (m) => pageLog.push(m.text()));
    page.on('pageerror', (e) => pageLog.push(`page error: ${e.message}`));
    await page.goto(`${web.url}/?${new URLSearchParams({ image: ref, vm: bridge.wsUrl })}`);
    await vmLinkOpen(page);
    const initrd = await buildInitramfs({ kernel, checks: checksScript(img.checks) });
    const port = Number(bridge.vmAddress.split(':').pop());
    const run = await runGuest({ kernel: kernel.vmlinuz, initrd, frames: { host: '127.0.0.1', port }, timeoutMs: GUEST_TIMEOUT_MS });
    const checks = requireChecks(run, 'page over ?vm=ws://', `${await page.locator('main').innerText()}\n${pageLog.join('\n')}`);
    result = { run, report: parseReport(checks), manifest, layout: fx.small };
    console.log(`?vm=ws:// guest: ${run.wallMs} ms, bridge ${JSON.stringify(bridge.stats)}`);
  }, GUEST_TIMEOUT_MS + 60_000);

  mountTests(img, 'serve', () => result);

  test('every frame crossed the page: the bridge and the page rings counted both directions', async () => {
    expect(bridge.stats.sessions).toBe(1);
    expect(bridge.stats.toPage).toBeGreaterThan(0);
    expect(bridge.stats.toVm).toBeGreaterThan(0);
    const status = page.locator('#vm-status');
    // The page's counters are refreshed every 500 ms; by now the VM is gone. Everything
    // the VM sent reached the page. The page may have sent a last frame (the stack's
    // answer to the VM's FIN) while the bridge was already closing, which the bridge
    // then discards: at most one frame more.
    await expect.poll(async () => Number(await status.getAttribute('data-to-net'))).toBe(bridge.stats.toPage);
    await expect.poll(async () => Number(await status.getAttribute('data-from-net')) - bridge.stats.toVm).toBeGreaterThanOrEqual(0);
    expect(Number(await status.getAttribute('data-from-net')) - bridge.stats.toVm).toBeLessThanOrEqual(1518);
    expect(await status.getAttribute('data-state')).toMatch(/^closed/);
    await page.screenshot({ path: join(SHOTS, 'vm-websocket.png'), fullPage: true });
  });
});

/** c2w's emscripten files, standing in for the runtime: out.js relays Module.websocket.url ⇄ `bridgeUrl`. */
function writeEmscriptenStandIn(bridgeUrl: string): void {
  writeFileSync(join(EMSCRIPTEN_DIR, 'arg-module.js'), 'globalThis.Module.arguments = ["-nographic"];\n');
  writeFileSync(join(EMSCRIPTEN_DIR, 'load.js'), 'globalThis.emscriptenLoadJsRan = true;\n');
  writeFileSync(
    join(EMSCRIPTEN_DIR, 'out.js'),
    `export default async function init(Module) {
  const files = {};
  const FS = { mkdir() {}, writeFile(path, data) { files[path] = typeof data === 'string' ? data : new TextDecoder().decode(data); } };
  for (const f of Module.preRun) f({ ...Module, FS });
  globalThis.emscriptenFiles = files;
  const vm = new WebSocket(Module.websocket.url);
  const bridge = new WebSocket(${JSON.stringify(bridgeUrl)});
  vm.binaryType = bridge.binaryType = 'arraybuffer';
  const toVm = [], toBridge = [];
  const send = (ws, queue, data) => (ws.readyState === 1 ? ws.send(data) : queue.push(data));
  vm.onopen = () => toVm.splice(0).forEach((d) => vm.send(d));
  bridge.onopen = () => toBridge.splice(0).forEach((d) => bridge.send(d));
  bridge.onmessage = (ev) => send(vm, toVm, ev.data);
  vm.onmessage = (ev) => send(bridge, toBridge, ev.data);
  bridge.onclose = () => vm.close();
  Module.print('stand-in emscripten VM: socket ' + Module.websocket.url);
}
`,
  );
}

describe('?vm=…/out.js — the same guest through the emscripten path (msw ws.link at localhost:9999)', () => {
  let result: MountRun;
  let bridge: VmBridge;
  let page: Page;

  beforeAll(async () => {
    const ref = `${reg.host}/small:latest`;
    const manifest = parseManifest(expectOk(await runCli(['manifest', ref])).stdout);
    bridge = await startVmBridge({ vm: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
    cleanup.push(() => bridge.close());
    writeEmscriptenStandIn(bridge.wsUrl);
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageLog: string[] = [];
    page.on('console', (m) => pageLog.push(m.text()));
    page.on('pageerror', (e) => pageLog.push(`page error: ${e.message}`));
    await page.goto(`${web.url}/?${new URLSearchParams({ image: ref, vm: `${web.url}/qemu-wasm/out.js` })}`);
    await page.locator('#summary .served').waitFor({ timeout: 30_000 });
    await page.locator('#vm-status[data-state="running"]').waitFor({ timeout: 10_000 }).catch(async (e: Error) => {
      throw new Error(`${e.message}\npage said: ${await page.locator('main').innerText()}\n${pageLog.join('\n')}`);
    });
    const initrd = await buildInitramfs({ kernel, checks: checksScript(img.checks) });
    const port = Number(bridge.vmAddress.split(':').pop());
    const run = await runGuest({ kernel: kernel.vmlinuz, initrd, frames: { host: '127.0.0.1', port }, timeoutMs: GUEST_TIMEOUT_MS });
    const checks = requireChecks(run, 'page over the emscripten ws.link', `${await page.locator('main').innerText()}\n${pageLog.join('\n')}`);
    result = { run, report: parseReport(checks), manifest, layout: fx.small };
    console.log(`emscripten path guest: ${run.wallMs} ms, bridge ${JSON.stringify(bridge.stats)}`);
  }, GUEST_TIMEOUT_MS + 60_000);

  mountTests(img, 'serve', () => result);

  test('c2w\'s files were written and the frames went through ws.link and the rings', async () => {
    const files = (await page.evaluate(() => (globalThis as { emscriptenFiles?: Record<string, string> }).emscriptenFiles)) ?? {};
    expect(files['/pack/info']).toContain('b: 9p=192.168.127.252');
    expect(files['/pack/info']).toMatch(/^n:02(:[0-9A-F]{2}){5}$/im);
    expect(files['/.wasmenv/proxy.crt']).toBe('');
    const status = page.locator('#vm-status');
    await expect.poll(async () => Number(await status.getAttribute('data-to-net'))).toBe(bridge.stats.toPage);
    // ws.link counts what the stack wrote after the VM hung up too (nowhere to go): at least what reached the VM.
    await expect.poll(async () => Number(await status.getAttribute('data-from-net'))).toBeGreaterThanOrEqual(bridge.stats.toVm);
    expect(await status.getAttribute('data-connections')).toBe('1');
    expect(await page.locator('#terminal').innerText()).toContain('stand-in emscripten VM: socket http://localhost:9999/');
  });
});
