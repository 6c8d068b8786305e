// The real Linux guest's frames through container2wasm's SharedArrayBuffer rings. QEMU's
// NIC (`-netdev socket,connect=`) talks to a bridge in this process that plays c2w's VM
// worker: it copies the guest's QEMU-framed bytes into toNet (vmRingEndpoint.send) and
// the bytes from fromNet back to the socket. The stack side is src/web/stack-worker.ts
// (mountImage + attachRings) running in a worker_threads Worker, bundled with esbuild.
// The guest runs the same whole-tree checks as net-mount.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { createRingBuffers, vmRingEndpoint, type RingBuffers } from '../../src/index.js';
import type { FromStackWorker, ToStackWorker } from '../../src/web/stack-worker.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { parseManifest } from '../helpers/tree.js';
import { checksScript, parseReport } from '../guest/checks.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { ensureGuestKernel, type GuestKernel } from '../guest/kernel.js';
import { IMAGES, mountTests, type MountRun } from '../guest/mount-suite.js';
import { requireChecks, runGuest } from '../guest/qemu.js';

const GUEST_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 300_000;

interface Bridge {
  port: number;
  stats: { toNet: number; fromNet: number; refusals: number };
  close(): Promise<void>;
}

/** A TCP endpoint for QEMU's frame stream whose other side is the VM end of the rings. */
async function startBridge(rings: RingBuffers): Promise<Bridge> {
  const vm = vmRingEndpoint(rings);
  const stats = { toNet: 0, fromNet: 0, refusals: 0 };
  let sock: Socket | undefined;
  let poll: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  const queue: Buffer[] = [];

  // Guest → toNet, in order; a chunk that does not fit is retried after 1 ms.
  const pump = () => {
    retry = undefined;
    while (queue.length > 0) {
      if (!vm.send(queue[0]!)) {
        stats.refusals++;
        retry = setTimeout(pump, 1);
        return;
      }
      stats.toNet += queue.shift()!.length;
    }
  };

  const server: Server = createServer((s) => {
    sock = s;
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => {
      queue.push(b);
      if (!retry) pump();
    });
    s.on('error', () => {});
    // fromNet → guest, polled every millisecond.
    poll = setInterval(() => {
      const bytes = vm.receive();
      if (bytes.length > 0) {
        stats.fromNet += bytes.length;
        s.write(bytes);
      }
    }, 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stats,
    close: async () => {
      clearInterval(poll);
      clearTimeout(retry);
      sock?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let fx: FixtureSet;
let kernel: GuestKernel;
const dir = mkdtempSync(join(tmpdir(), 'rings-guest-'));
let script: string;

beforeAll(async () => {
  script = join(dir, 'stack-worker.mjs');
  [fx, kernel] = await Promise.all([
    getFixtures(),
    ensureGuestKernel(),
    build({
      entryPoints: [fileURLToPath(new URL('../transport/rings-stack-worker.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
      // CommonJS dependencies (tar-stream → streamx) require Node built-ins.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    }),
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const img = IMAGES.find((i) => i.name === 'small')!;

describe('9P mount through c2w SharedArrayBuffer rings (stack worker in a worker thread): small', () => {
  let result: MountRun;
  let worker: Worker | undefined;
  let bridge: Bridge | undefined;
  const messages: FromStackWorker[] = [];
  const log = () => messages.map((m) => JSON.stringify(m)).join('\n');
  let timings: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    const layout = img.layout(fx);
    const manifest = parseManifest(expectOk(await runCli(['manifest', layout.dir])).stdout);
    const rings = createRingBuffers();
    bridge = await startBridge(rings);
    worker = new Worker(script);
    const ready = new Promise<void>((resolve, reject) => {
      worker!.on('message', (m: FromStackWorker) => {
        messages.push(m);
        if (m.type === 'ready') resolve();
        if (m.type === 'error') reject(new Error(`stack worker: ${m.message}`));
      });
      worker!.once('error', reject);
    });
    const start: ToStackWorker = { type: 'start', image: layout.dir, platform: 'linux/amd64', rings };
    worker.postMessage(start);
    await ready;
    const tReady = Date.now();
    const initrd = await buildInitramfs({ kernel, checks: checksScript(img.checks) });
    const run = await runGuest({ kernel: kernel.vmlinuz, initrd, frames: { host: '127.0.0.1', port: bridge.port }, timeoutMs: GUEST_TIMEOUT_MS });
    const checks = requireChecks(run, 'stack worker over rings', log());
    result = { run, report: parseReport(checks), manifest, layout };
    timings = { mountMs: tReady - t0, guestMs: run.wallMs };
    console.log(`rings guest: ${JSON.stringify(timings)} bridge ${JSON.stringify(bridge.stats)}`);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    worker?.postMessage({ type: 'stop' } satisfies ToStackWorker);
    await bridge?.close();
    await worker?.terminate();
  });

  mountTests(img, 'serve', () => result);

  test('the stack worker reported progress, every layer, and ready; frames crossed both rings', () => {
    const types = messages.map((m) => m.type);
    expect(types).toContain('progress');
    expect(messages.filter((m) => m.type === 'layer').length).toBeGreaterThan(0);
    expect(types).toContain('ready');
    expect(types).not.toContain('error');
    expect(messages.filter((m) => m.type === 'log' && m.level === 'warn')).toEqual([]);
    expect(bridge!.stats.toNet).toBeGreaterThan(0);
    expect(bridge!.stats.fromNet).toBeGreaterThan(0);
  });
});
