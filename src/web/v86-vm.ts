// The page's side of the embedded VM: starts the v86 worker on the mount worker's rings,
// reads the guest's console (GuestConsole: boot markers, then the container's bytes),
// answers READY with the settings line, and joins the container's terminal to xterm.js
// (keys, output, and size changes through the guest's second serial port).
// The first cold boot saves v86's state at READY (before DHCP and the 9P mount) in the
// browser's storage (snapshot-store.ts); later loads restore it and only run DHCP, the
// mount and the container. The VM starts while the image is still being pulled; the
// settings line, after which the guest brings its network up, waits for the mount.
import type { RingBuffers } from '../transport/rings.js';
import { GuestConsole } from '../vm/console.js';
import { encodeGoLine } from '../vm/init-script.js';
import { badV86State } from '../vm/v86-state.js';
import { openSnapshotStore } from './snapshot-store.js';
import type { ConsoleTerminal } from './terminal.js';
import type { FromV86Worker, ToV86Worker, V86Assets } from './v86-worker.js';

/** Guest RAM: the guest needs 128 MiB. The snapshot holds its non-zero pages (about 30 MiB). */
const MEMORY_MIB = 128;

export interface V86Ui {
  terminal: ConsoleTerminal;
  setState(state: string, text: string): void;
  log(level: 'info' | 'warn', message: string): void;
}

/** The asset manifest written by `npm run vm-assets` (.cache/vm/v86/assets.json), as URLs. */
export async function loadV86Assets(base: string): Promise<{ assets: V86Assets; key: string }> {
  const r = await fetch(`${base}assets.json`, { cache: 'no-cache' });
  if (!r.ok) throw new Error(`${base}assets.json: HTTP ${r.status} (run \`npm run vm-assets\` and serve the page with \`imagemounter web\`)`);
  const text = await r.text();
  const m = JSON.parse(text) as { kernel: string; initrd: string; bios: string; vgaBios: string; nic: V86Assets['nic'] };
  const url = (f: string) => new URL(f, base).href;
  const assets: V86Assets = { kernel: url(m.kernel), initrd: url(m.initrd), bios: url(m.bios), vgaBios: url(m.vgaBios), wasm: new URL('./v86.wasm', location.href).href, nic: m.nic };
  // The snapshot belongs to exactly these boot files and kernel command line (assets.json's
  // digest changes with them) and this RAM size.
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${text}|${MEMORY_MIB}`));
  const key = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { assets, key };
}

export async function startV86Vm(base: string, rings: RingBuffers, ui: V86Ui, mounted: Promise<void>): Promise<void> {
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const { assets, key } = await loadV86Assets(base);
  const store = await openSnapshotStore().catch(() => undefined);
  let state = await store?.get(key).catch(() => undefined);
  const bad = state && badV86State(state);
  if (bad) {
    // Say, drop it, and boot cold: this load saves a new one.
    ui.log('warn', `v86: the saved boot snapshot is unusable (${bad}); booting cold`);
    void store?.delete(key);
    state = undefined;
  }
  const worker = new Worker(new URL('./v86-worker.js', import.meta.url), { type: 'module' });
  const send = (m: ToV86Worker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
  const enc = new TextEncoder();
  // No image, nothing to run: the VM stops wherever it is (booting, restoring, waiting).
  void mounted.catch(() => {
    worker.terminate();
    ui.setState('stopped', 'v86: stopped: there is no mounted image to run');
  });
  const sendGo = () => void mounted.then(sendGoNow, () => undefined);
  const sendGoNow = () => {
    const line = encodeGoLine({ tty: true, onlcr: true, rows: ui.terminal.rows(), cols: ui.terminal.cols(), time: Math.floor(Date.now() / 1000) });
    // The guest's UART takes a few KiB at a time; pace long lines.
    for (let i = 0, k = 0; i < line.length; i += 512, k++) setTimeout(() => send({ type: 'serial', bytes: enc.encode(line.slice(i, i + 512)) }), k * 5);
  };
  const console_ = new GuestConsole({
    onReady: () => {
      ui.setState('setup', `v86: booted in ${since()}; saving the boot snapshot`);
      send({ type: 'save' });
    },
    onStart: () => {
      ui.setState('running', `v86: container started after ${since()}${state ? ' (from the boot snapshot)' : ' (cold boot)'}`);
      // The settings line had the size when it was sent; the panel may have changed since.
      send({ type: 'resize', rows: ui.terminal.rows(), cols: ui.terminal.cols() });
    },
    onOutput: (bytes) => ui.terminal.write(bytes),
    onExit: (status) => ui.setState('exited', `v86: the container exited with status ${status}`),
    onError: (message, log) => {
      ui.setState('failed', `v86: the guest could not start the container: ${message}`);
      ui.terminal.write(enc.encode(log.replace(/\r?\n/g, '\r\n')));
    },
  });
  ui.terminal.onResize(({ rows, cols }) => {
    if (console_.phase === 'running') send({ type: 'resize', rows, cols });
  });
  // Keys reach the guest only once the container runs: before, they would land in the settings line.
  ui.terminal.onInput((bytes) => {
    if (console_.phase === 'running') send({ type: 'serial', bytes });
  });
  worker.onmessage = (ev: MessageEvent<FromV86Worker>) => {
    const m = ev.data;
    if (m.type === 'serial') console_.push(m.bytes);
    else if (m.type === 'booted') {
      ui.setState('booting', m.restored ? 'v86: restored the boot snapshot' : 'v86: booting (cold; the first boot is saved for the next loads)');
      if (m.restored) {
        // The snapshot was taken at READY: the guest waits for its settings line.
        console_.phase = 'setup';
        sendGo();
      }
    } else if (m.type === 'state') {
      const size = m.state.byteLength;
      void store?.set(key, m.state).then(
        () => ui.log('info', `v86: boot snapshot saved (${(size / 2 ** 20).toFixed(0)} MiB in ${store.where})`),
        (e: unknown) => ui.log('warn', `v86: could not keep the boot snapshot: ${(e as Error).message}`),
      );
      sendGo();
    } else {
      ui.setState('failed', `v86: ${m.message}`);
      // A snapshot that does not restore is dropped, so the next load boots cold.
      if (state) void store?.delete(key);
    }
  };
  worker.onerror = (ev) => ui.setState('failed', `v86 worker failed to start: ${ev.message || 'see the browser console'}`);
  ui.setState('booting', state ? 'v86: restoring the boot snapshot' : 'v86: booting');
  send({ type: 'start', assets, rings, memoryMiB: MEMORY_MIB, ...(state ? { state } : {}) }, state ? [state] : []);
}
