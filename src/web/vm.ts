// Which VM the page runs, and starting it once the image is mounted. Every VM reaches
// the mount worker's stack through c2w's rings:
//   ?vm=ws://HOST:PORT   a native VM's frame stream over a WebSocket (vm-websocket.ts)
//   ?vm=URL              a container2wasm VM image (out.wasm[.gzip]) in a VM worker
//   ?vm=URL/out.js       a container2wasm emscripten (QEMU-wasm) VM: its out.js,
//                        arg-module.js and load.js from that directory; its network is
//                        the in-page WebSocket at ws://localhost:9999 (msw ws.link)
//   ?vm=v86              the embedded v86 VM (v86-vm.ts; assets under ./vm/v86/)
//   ?vm=none             no VM: mount and browse only
//   no ?vm=              ./out.wasm.gzip when the server has one, else v86 when its
//                        assets are served, else none (the page says where to get a VM)
import type { EmscriptenModule } from '../c2w/qemu-wasm.js';
import { createRingBuffers, type RingBuffers } from '../transport/rings.js';
import type { FromVmWorker, StartVmMessage } from './c2w-vm-worker.js';
import { openTerminal } from './terminal.js';
import { startV86Vm } from './v86-vm.js';
import { createTtyInput, ttyInputWriter } from './tty-channel.js';
import { connectWebSocketVm } from './vm-websocket.js';

export const DEFAULT_C2W_VM = './out.wasm.gzip';
export const V86_ASSETS = './vm/v86/';

export type VmChoice =
  | { kind: 'websocket'; url: string }
  | { kind: 'c2w'; url: string }
  | { kind: 'emscripten'; outJs: string }
  | { kind: 'v86'; assets: string }
  | { kind: 'none'; why: 'asked' | 'nothing-served' };

async function served(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    return r.ok;
  } catch {
    return false;
  }
}

export async function chooseVm(param: string | null): Promise<VmChoice> {
  if (param === 'none') return { kind: 'none', why: 'asked' };
  if (param === 'v86') return { kind: 'v86', assets: new URL(V86_ASSETS, location.href).href };
  if (param) {
    if (/^wss?:\/\//i.test(param)) return { kind: 'websocket', url: param };
    const url = new URL(param, location.href);
    if (url.pathname.endsWith('.js')) return { kind: 'emscripten', outJs: url.href };
    return { kind: 'c2w', url: url.href };
  }
  const c2w = new URL(DEFAULT_C2W_VM, location.href).href;
  const assets = new URL(V86_ASSETS, location.href).href;
  // Both asked at once: each is a round trip before anything starts.
  const [hasC2w, hasV86] = await Promise.all([served(c2w), served(`${assets}assets.json`)]);
  if (hasC2w) return { kind: 'c2w', url: c2w };
  if (hasV86) return { kind: 'v86', assets };
  return { kind: 'none', why: 'nothing-served' };
}

/** Platform to pull when the URL names none: v86 is a 32-bit x86 PC. */
export function defaultPlatform(vm: VmChoice): string | undefined {
  return vm.kind === 'v86' ? 'linux/386' : undefined;
}

export function needsRings(vm: VmChoice): boolean {
  return vm.kind !== 'none';
}

/** Fresh rings, or an explanation of why this page cannot share memory with a VM. */
export function ringsOrWhyNot(): RingBuffers | string {
  if (!self.crossOriginIsolated) {
    return 'Serve the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (imagemounter web does): SharedArrayBuffer needs them.';
  }
  return createRingBuffers();
}

export interface VmUi {
  /** The image the mount worker serves (c2w's emscripten VM is told whether there is one). */
  image: string;
  status: HTMLElement;
  terminalPanel: HTMLElement;
  log(level: 'info' | 'warn', message: string): void;
}

/**
 * Starts the chosen VM on the rings the mount worker serves. `mounted` settles when the
 * image is mounted (or cannot be): the embedded VM starts at once and only waits for it
 * before its network comes up; the others start once it resolves.
 */
export function startVm(vm: VmChoice, rings: RingBuffers, ui: VmUi, mounted: Promise<void>): void {
  if (vm.kind === 'v86') return void startEmbeddedVm(vm.assets, rings, ui, mounted);
  void mounted.then(
    () => {
      if (vm.kind === 'websocket') return connectWebSocketVm(vm.url, rings, ui.status);
      if (vm.kind === 'c2w') return startC2wVm(vm.url, rings, ui);
      if (vm.kind === 'emscripten') return void startEmscriptenVm(vm.outJs, rings, ui);
    },
    () => undefined,
  );
}

function startEmbeddedVm(base: string, rings: RingBuffers, ui: VmUi, mounted: Promise<void>): Promise<void> {
  const terminal = openTerminal(ui.terminalPanel);
  const setState = (state: string, text: string) => {
    ui.status.textContent = text;
    ui.status.dataset.state = state;
  };
  terminal.focus();
  return startV86Vm(base, rings, { terminal, setState, log: ui.log }, mounted).catch((e: unknown) => setState('failed', `v86: ${e instanceof Error ? e.message : String(e)}`));
}

/**
 * c2w's emscripten VM on the page's main thread (as c2w runs it), through our
 * createContainerQEMUWasm with the mount worker's rings as its stack. Its console is
 * emscripten's print/printErr on the terminal; keyboard input needs c2w's xterm-pty
 * wiring (Module.pty), which this page does not carry.
 */
async function startEmscriptenVm(outJs: string, rings: RingBuffers, ui: VmUi): Promise<void> {
  const term = openTerminal(ui.terminalPanel);
  const base = new URL('./', outJs).href;
  const line = (text: string) => term.write(new TextEncoder().encode(`${text}\r\n`));
  const setState = (state: string, text: string) => {
    ui.status.textContent = `VM ${outJs}: ${text}`;
    ui.status.dataset.state = state;
  };
  setState('starting', 'starting (emscripten)');
  const Module = { preRun: [], print: line, printErr: line } as unknown as EmscriptenModule;
  try {
    // msw is most of this path's code: loaded only when an emscripten VM is asked for.
    const { createContainerQEMUWasm } = await import('../c2w/qemu-wasm.js');
    await createContainerQEMUWasm(Module, outJs, ui.image, '', undefined, `${base}arg-module.js`, `${base}load.js`, (p) => base + p, {
      stack: { rings, cert: new Uint8Array(0) },
      log: (m) => ui.log('info', m),
      onLink: (link) => {
        const show = () => {
          ui.status.dataset.toNet = String(link.stats.toNet);
          ui.status.dataset.fromNet = String(link.stats.fromNet);
          ui.status.dataset.connections = String(link.stats.connections);
        };
        setInterval(show, 500);
      },
    });
    setState('running', 'running (emscripten)');
  } catch (e) {
    setState('failed', `failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function startC2wVm(url: string, rings: RingBuffers, ui: VmUi): void {
  const term = openTerminal(ui.terminalPanel);
  const input = createTtyInput();
  const writer = ttyInputWriter(input);
  term.onInput((bytes) => {
    if (writer.write(bytes) < bytes.length) ui.log('warn', 'terminal: the VM is not reading its input; keystrokes dropped');
  });
  const worker = new Worker(new URL('./c2w-vm-worker.js', import.meta.url), { type: 'module' });
  ui.status.textContent = `VM ${url}: starting`;
  ui.status.dataset.state = 'starting';
  worker.onmessage = (ev: MessageEvent<FromVmWorker>) => {
    const m = ev.data;
    if (m.type === 'output') {
      if (ui.status.dataset.state === 'starting') {
        ui.status.textContent = `VM ${url}: running`;
        ui.status.dataset.state = 'running';
      }
      term.write(m.bytes);
    } else if (m.type === 'log') ui.log('warn', m.message);
    else if (m.type === 'exit') {
      ui.status.textContent = `VM ${url}: exited with status ${m.code}`;
      ui.status.dataset.state = 'exited';
    } else {
      ui.status.textContent = `VM ${url}: failed: ${m.message}`;
      ui.status.dataset.state = 'failed';
    }
  };
  worker.onerror = (ev) => {
    ui.status.textContent = `VM worker failed to start: ${ev.message || 'see the browser console'}`;
    ui.status.dataset.state = 'failed';
  };
  // Empty certificate: the stack runs no TLS-intercepting proxy (the mount worker wrote
  // the same empty one into metaFromNet).
  const start: StartVmMessage = { type: 'start', info: { vmImage: url, net: rings, cert: new Uint8Array(0) }, args: [], ttyInput: input };
  worker.postMessage(start);
  term.focus();
}
