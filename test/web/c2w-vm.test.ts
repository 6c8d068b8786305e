// The page running a container2wasm-style WASI VM image (the default ./out.wasm.gzip) in
// its VM worker: our startContainer with browser_wasi_shim, the mount worker's stack on
// c2w's rings, the console on xterm.js through the tty channel. No c2w VM can be built
// here (it needs Docker buildx), so the VM image is a hand-assembled WASI program using
// the same imports a c2w VM uses: it accepts on fd 4, sends a DHCP DISCOVER over the
// socket, waits for the answer, says so on stdout, then echoes terminal input until 'q'.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { buildDhcp, DISCOVER } from '../../src/net/dhcp.js';
import { encodeFrame } from '../../src/net/index.js';
import { startWebServer, type WebServer } from '../../src/node/web-server.js';
import { getFixtures, REPO } from '../helpers/fixtures.js';
import { brIf, call, drop, end, eqz, i32, load, load8u, loop, ne, store, wasiProgram } from '../helpers/tiny-wasm.js';
import { BCAST_MAC, udpFrame, VM_MAC } from '../net/helpers.js';

const SHOTS = join(REPO, '.cache/screenshots');

/** The stand-in VM image (see the file comment). Memory map in the comments below. */
function echoVm(): Uint8Array<ArrayBuffer> {
  const discover = encodeFrame(
    udpFrame(0, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid: 7, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []), { dstMac: BCAST_MAC }),
  );
  const le = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
  const [ACCEPT, SEND, RECV, WRITE, READ] = [0, 1, 2, 3, 4];
  const body = [
    // sock_accept(4, 0, &fd @100)
    ...i32(4), ...i32(0), ...i32(100), ...call(ACCEPT), ...drop,
    // sock_send(5, iovec @16 → DISCOVER @1024, 1, 0, &sent @104)
    ...i32(5), ...i32(16), ...i32(1), ...i32(0), ...i32(104), ...call(SEND), ...drop,
    // until sock_recv(5, iovec @24 → buf @4096 len 2048, …, &n @108) gives bytes
    ...loop,
    ...i32(5), ...i32(24), ...i32(1), ...i32(0), ...i32(108), ...i32(112), ...call(RECV), ...drop,
    ...i32(108), ...load, ...eqz, ...brIf(0),
    ...end,
    // fd_write(1, iovec @32 → "got reply\r\n" @300)
    ...i32(1), ...i32(32), ...i32(1), ...i32(116), ...call(WRITE), ...drop,
    // echo: fd_read(0, iovec @40 → buf @400 len 64, &n @120), fd_write(1, iovec @48 → buf @400 len n), until 'q'
    ...loop,
    ...i32(0), ...i32(40), ...i32(1), ...i32(120), ...call(READ), ...drop,
    ...i32(52), ...i32(120), ...load, ...store,
    ...i32(1), ...i32(48), ...i32(1), ...i32(116), ...call(WRITE), ...drop,
    ...i32(400), ...load8u, ...i32(0x71), ...ne, ...brIf(0),
    ...end,
  ];
  return wasiProgram(
    [
      { name: 'sock_accept', params: 3 },
      { name: 'sock_send', params: 5 },
      { name: 'sock_recv', params: 6 },
      { name: 'fd_write', params: 4 },
      { name: 'fd_read', params: 4 },
    ],
    body,
    [
      [16, [...le(1024), ...le(discover.length), ...le(4096), ...le(2048), ...le(300), ...le(11), ...le(400), ...le(64), ...le(400), ...le(0)]],
      [300, new TextEncoder().encode('got reply\r\n')],
      [1024, discover],
    ],
  );
}

let fx: FixtureSet;
let web: WebServer;
let browser: Browser;

beforeAll(async () => {
  fx = await getFixtures();
  const script = join(REPO, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  const root = await buildWeb({ outdir: join(REPO, '.cache/web-c2w-test') });
  writeFileSync(join(root, 'out.wasm.gzip'), gzipSync(echoVm()));
  web = await startWebServer({ root, extra: { '/layouts/small': fx.small.dir } });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await web?.close();
});

test('the default ./out.wasm.gzip runs in the VM worker: its DHCP DISCOVER is answered through the rings, its console is the terminal', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${web.url}/?${new URLSearchParams({ image: `${web.url}/layouts/small` })}`);
  const terminalText = () => page.evaluate(() => {
    const t = (globalThis as { imagemounterTerminal?: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } }).imagemounterTerminal;
    if (!t) return '';
    const b = t.buffer.active;
    return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? '').join('\n');
  });
  await expect.poll(terminalText, { timeout: 30_000 }).toContain('got reply');
  await page.locator('#terminal').click();
  await page.keyboard.type('hello');
  await expect.poll(terminalText).toMatch(/got reply\n+hello/);
  await page.keyboard.type('q');
  await expect.poll(() => page.locator('#vm-status').getAttribute('data-state')).toBe('exited');
  expect(await page.locator('#vm-status').innerText()).toContain('exited with status 0');
  // Still a file browser beside the VM.
  await page.locator('#listing li[data-name="hello.txt"]').waitFor();
  await page.screenshot({ path: join(SHOTS, 'c2w-vm-terminal.png'), fullPage: true });
  expect(errors).toEqual([]);
}, 90_000);
