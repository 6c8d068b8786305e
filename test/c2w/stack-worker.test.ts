// The stack worker driven the way c2w's unchanged runcontainer.js drives it (`init`,
// `send_cert`), and createContainerWASI driving it the way our page does, both with the
// real worker (src/web/stack-worker.ts, bundled) in a worker_threads thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker as NodeWorker } from 'node:worker_threads';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageConfig, LayoutWriter } from '../../fixtures/layout.js';
import { buildLayer } from '../../fixtures/tar.js';
import { WebSocket as NodeWebSocket } from 'ws';
import { createContainerQEMUWasm, createContainerWASI, stopContainerStack, type EmscriptenModule, type WebSocketLinkServer } from '../../src/c2w/index.js';
import { buildDhcp, DISCOVER, OFFER, parseDhcp } from '../../src/net/dhcp.js';
import { encodeFrame, FrameDecoder } from '../../src/net/index.js';
import { createRingBuffers, vmRingEndpoint, type RingBuffers } from '../../src/transport/rings.js';
import type { FromStackWorker } from '../../src/web/stack-worker.js';
import { BCAST_MAC, decode, udpFrame, VM_MAC } from '../net/helpers.js';
import { until } from './helpers.js';

let dir: string;
let script: string;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'c2w-stack-'));
  script = join(dir, 'stack-worker.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../transport/rings-stack-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: script,
    logLevel: 'silent',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  image = join(dir, 'image');
  const w = new LayoutWriter(image);
  const layer = await buildLayer([{ name: 'hello.txt', data: 'hi\n' }], 'gzip');
  const img = w.image(imageConfig('amd64'), [layer]);
  w.writeIndex(img.manifest, 'latest');
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The VM sends a DHCP DISCOVER; the stack, if it serves these rings, answers with an OFFER. */
async function dhcpOffer(rings: RingBuffers): Promise<void> {
  const vm = vmRingEndpoint(rings);
  const discover = udpFrame(
    0,
    68,
    0xffffffff,
    67,
    buildDhcp({ op: 1, xid: 0x4321, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []),
    { dstMac: BCAST_MAC },
  );
  expect(vm.send(encodeFrame(discover))).toBe(true);
  const decoder = new FrameDecoder();
  let offered = false;
  await until(() => {
    for (const frame of decoder.push(vm.receive())) {
      const { udp } = decode(frame);
      if (udp?.dstPort === 68 && parseDhcp(udp.payload)?.type === OFFER) offered = true;
    }
    return offered;
  }, 10_000);
}

describe('stack worker: c2w init message', () => {
  it('mounts imageAddr, writes the empty certificate, posts send_cert and serves the rings', async () => {
    const rings = createRingBuffers();
    const worker = new NodeWorker(script);
    const messages: FromStackWorker[] = [];
    const cert = new Promise<FromStackWorker>((resolve, reject) => {
      worker.on('message', (m: FromStackWorker) => {
        messages.push(m);
        if (m.type === 'send_cert') resolve(m);
        if (m.type === 'error') reject(new Error(m.message));
      });
      worker.once('error', reject);
    });
    // Exactly what c2w's createStack posts (buf: its HTTP channel; mounterWasmURL: unused).
    worker.postMessage({
      type: 'init',
      buf: new SharedArrayBuffer(12 + 1024 * 1024),
      toBuf: rings.toNet,
      fromBuf: rings.fromNet,
      metaFromBuf: rings.metaFromNet,
      imageAddr: image,
      mounterWasmURL: 'https://example.test/imagemounter.wasm.gzip',
    });
    try {
      const m = await cert;
      expect(m).toEqual({ type: 'send_cert', buf: new Uint8Array(0) });
      expect(messages.some((x) => x.type === 'ready')).toBe(true);
      // c2w's page would print "unknown request" for each progress message.
      expect(messages.filter((x) => x.type === 'progress' || x.type === 'layer')).toEqual([]);
      expect(vmRingEndpoint(rings).receiveMeta()).toEqual({ bytes: new Uint8Array(0), done: true });
      await dhcpOffer(rings);
    } finally {
      await worker.terminate();
    }
  });

  it('without an image still answers with the certificate, and says why it serves nothing', async () => {
    const rings = createRingBuffers();
    const worker = new NodeWorker(script);
    const messages: FromStackWorker[] = [];
    const cert = new Promise<void>((resolve) => worker.on('message', (m: FromStackWorker) => (messages.push(m), m.type === 'send_cert' && resolve())));
    worker.postMessage({ type: 'init', toBuf: rings.toNet, fromBuf: rings.fromNet, metaFromBuf: rings.metaFromNet, imageAddr: '' });
    try {
      await cert;
      // c2w's page logs `msg`.
      expect(messages[0]).toMatchObject({ type: 'log', level: 'warn', msg: expect.stringMatching(/no image/) });
      expect(vmRingEndpoint(rings).receiveMeta().done).toBe(true);
    } finally {
      await worker.terminate();
    }
  });
});

/** Enough of the browser's Worker for page.ts, over worker_threads. */
class WebWorkerShim extends EventTarget {
  static all: WebWorkerShim[] = [];
  readonly w: NodeWorker;
  constructor(url: string | URL) {
    super();
    WebWorkerShim.all.push(this);
    this.w = new NodeWorker(fileURLToPath(url));
    this.w.on('message', (data) => this.dispatchEvent(new MessageEvent('message', { data })));
    this.w.on('error', (e) => this.dispatchEvent(Object.assign(new Event('error'), { message: e.message })));
  }
  postMessage(m: unknown) {
    this.w.postMessage(m);
  }
  terminate() {
    void this.w.terminate();
  }
}

describe('createContainerWASI', () => {
  const g = globalThis as unknown as { Worker?: unknown };
  beforeAll(() => void (g.Worker = WebWorkerShim));
  afterAll(() => void delete g.Worker);

  it("resolves with c2w's info once the stack serves the image, and the rings are the stack's", async () => {
    const seen: string[] = [];
    const info = await createContainerWASI('/out.wasm.gzip', image, pathToFileURL(script), undefined, { onMessage: (m) => seen.push(m.type) });
    expect(Object.keys(info)).toEqual(['vmImage', 'net', 'cert']);
    expect(Object.keys(info.net)).toEqual(['toNet', 'fromNet', 'metaFromNet']);
    expect(info.vmImage).toBe('/out.wasm.gzip');
    expect(info.cert).toEqual(new Uint8Array(0));
    expect(info.net.toNet.byteLength).toBe(1 << 20);
    expect(seen).toContain('ready');
    // structured-cloneable, as it is posted to the VM worker
    expect(structuredClone(info).net.toNet).toBeInstanceOf(SharedArrayBuffer);
    await dhcpOffer(info.net);
    stopContainerStack(info);
  });

  it('rejects when the stack cannot mount the image', async () => {
    await expect(createContainerWASI('/out.wasm', join(dir, 'no-such-image'), pathToFileURL(script))).rejects.toThrow(/stack worker/);
  });
});

describe('createContainerQEMUWasm', () => {
  // Stand-ins for the page: Worker, WebSocket (for msw to wrap; Node 20 has none) and the
  // one DOM call (a classic <script> for load.js).
  const g = globalThis as unknown as { Worker?: unknown; WebSocket?: unknown; document?: unknown; Module?: unknown };
  const hadWebSocket = 'WebSocket' in globalThis;
  beforeAll(() => {
    g.Worker = WebWorkerShim;
    if (!hadWebSocket) g.WebSocket = NodeWebSocket;
    g.document = { createElement: () => ({}), head: { appendChild: (s: { onload(): void }) => queueMicrotask(() => s.onload()) } };
  });
  afterAll(() => {
    delete g.Worker;
    delete g.document;
    delete g.Module;
    if (!hadWebSocket) delete g.WebSocket;
  });

  it("prepares the emscripten FS as c2w does and serves the VM's socket from the stack worker", async () => {
    // out.js: an emscripten module factory that runs preRun against a recording FS.
    const outJs = `data:text/javascript,${encodeURIComponent(`export default async function (Module) {
      const files = {};
      const FS = { mkdir(p) { files[p] = 'dir'; }, writeFile(p, d) { files[p] = d; } };
      for (const f of Module.preRun) f({ FS });
      Module.files = files;
      return Module;
    }`)}`;
    const argModule = `data:text/javascript,${encodeURIComponent('globalThis.Module.argModuleLoaded = true;')}`;
    const Module = { preRun: [] } as unknown as EmscriptenModule & { files: Record<string, unknown>; argModuleLoaded?: boolean };
    let link: WebSocketLinkServer | undefined;
    const logs: string[] = [];
    const started = WebWorkerShim.all.length;
    try {
      const m = await createContainerQEMUWasm(Module, outJs, image, pathToFileURL(script), 'unused', argModule, '/load.js', (p) => `/img/${p}`, {
        log: (l) => logs.push(l),
        extraInfo: 'extra: 1\n',
        onLink: (l) => (link = l),
      });
      expect(m).toBe(Module);
      expect(Module.argModuleLoaded).toBe(true);
      expect(Module.locateFile!('x.wasm', '')).toBe('/img/x.wasm');
      expect(Module.websocket).toEqual({ url: 'http://localhost:9999/' });
      expect(Module.files['/.wasmenv']).toBe('dir');
      expect(Module.files['/.wasmenv/proxy.crt']).toEqual(new Uint8Array(0));
      const info = String(Module.files['/pack/info']);
      expect(info).toMatch(/^t:\d+\nn:02(:[0-9A-F]{2}){5}\nmr: .wasmenv\n/);
      expect(info).toContain('env: HTTP_PROXY=http://192.168.127.253:80\n');
      expect(info).toContain('b: 9p=192.168.127.252\nextra: 1\n');

      // What emscripten's SOCKFS does for QEMU's -netdev socket: a WebSocket to that URL.
      const sock = new WebSocket(Module.websocket!.url!);
      sock.binaryType = 'arraybuffer';
      await new Promise((r) => (sock.onopen = r));
      const decoder = new FrameDecoder();
      let offered = false;
      sock.onmessage = (e) => {
        for (const frame of decoder.push(new Uint8Array(e.data as ArrayBuffer))) {
          const { udp } = decode(frame);
          if (udp?.dstPort === 68 && parseDhcp(udp.payload)?.type === OFFER) offered = true;
        }
      };
      const discover = udpFrame(0, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid: 7, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []), {
        dstMac: BCAST_MAC,
      });
      sock.send(encodeFrame(discover));
      await until(() => offered, 10_000);
      expect(link!.stats.connections).toBe(1);
      sock.close();
    } finally {
      link?.close();
      for (const w of WebWorkerShim.all.slice(started)) w.terminate();
    }
  });
});
