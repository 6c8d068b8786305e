// The hosted page: ?image=<registry ref | OCI layout URL>[&platform=OS/ARCH][&proxy=URL]
// [&vm=…] (see vm.ts). The pull, the mounted tree and the VM's network stack live in a
// worker (mount-worker.ts); the page shows the progress, errors in plain words, a
// read-only browser of the rootfs, and runs or links a VM (terminal included).
import type { RingBuffers } from '../transport/rings.js';
import { explainError } from './explain.js';
import { FileBrowser, type TreeSource } from './file-browser.js';
import { formatBytes } from './format.js';
import { ProgressView } from './progress-view.js';
import type { DirEntry, FromWorker, MountedSummary, OpenRequest, ToWorker } from './protocol.js';
import { chooseVm, defaultPlatform, needsRings, ringsOrWhyNot, startVm, type VmChoice } from './vm.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const CREDENTIALS_KEY = 'imagemounter.credentials';
type PageCredentials = NonNullable<OpenRequest['credentials']>;

/** The credentials form: kept in sessionStorage (this tab only), never in the URL. */
function credentialsForm(): PageCredentials | undefined {
  const form = $<HTMLFormElement>('creds-form');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const username = String(f.get('username') ?? '');
    const secret = String(f.get('password') ?? '');
    const c: PageCredentials = f.get('is-token') ? { token: secret } : { username, password: secret };
    sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(c));
    location.reload();
  });
  $('creds-forget').addEventListener('click', () => {
    sessionStorage.removeItem(CREDENTIALS_KEY);
    location.reload();
  });
  try {
    const c = JSON.parse(sessionStorage.getItem(CREDENTIALS_KEY) ?? 'null') as PageCredentials | null;
    if (!c) return undefined;
    (form.elements.namedItem('username') as HTMLInputElement).value = c.username ?? '';
    $<HTMLDetailsElement>('creds').querySelector('summary')!.textContent = c.token ? 'Registry credentials (identity token set)' : `Registry credentials (${c.username})`;
    return c;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const credentials = credentialsForm();
  const image = params.get('image') ?? '';
  const form = $<HTMLFormElement>('open-form');
  for (const name of ['image', 'platform', 'proxy', 'vm']) (form.elements.namedItem(name) as HTMLInputElement).value = params.get(name) ?? '';
  if (!image) {
    setStatus('Give an image: a registry reference (127.0.0.1:5000/app:1) or an OCI layout URL.');
    return;
  }
  document.title = `${image} — imagemounter`;
  const vm = await chooseVm(params.get('vm'));
  let rings: RingBuffers | undefined;
  if (needsRings(vm)) {
    const r = ringsOrWhyNot();
    if (typeof r === 'string') {
      showError({ title: 'This page is not cross-origin isolated, so it cannot share memory with a VM.', lines: [r] });
      return;
    }
    rings = r;
  }
  const worker = new Worker(new URL('./mount-worker.js', import.meta.url), { type: 'module' });
  const progress = new ProgressView($('progress'));
  const pending = new Map<number, (m: FromWorker) => void>();
  let nextId = 1;
  const ask = (m: ToWorker & { id: number }) => new Promise<FromWorker>((resolve) => {
    pending.set(m.id, resolve);
    worker.postMessage(m);
  });
  const source: TreeSource = {
    async list(path) {
      const r = await ask({ type: 'list', id: nextId++, path });
      if (r.type !== 'listing' || !r.entries) throw new Error(r.type === 'listing' ? r.error : 'unexpected reply');
      return r.entries as DirEntry[];
    },
    async read(path, max) {
      const r = await ask({ type: 'read', id: nextId++, path, max });
      if (r.type !== 'file' || !r.bytes) throw new Error(r.type === 'file' ? r.error : 'unexpected reply');
      return { size: r.size ?? r.bytes.length, bytes: r.bytes };
    },
  };
  setStatus(`Pulling ${image}…`);
  // The VM starts now, in parallel with the pull (v86 restores or boots meanwhile); it
  // reaches the network only once the image is mounted.
  let onMounted!: () => void;
  let onMountFailed!: (e: Error) => void;
  const mounted = new Promise<void>((resolve, reject) => {
    onMounted = resolve;
    onMountFailed = reject;
  });
  mounted.catch(() => undefined);
  if (rings) startVm(vm, rings, { image, status: $('vm-status'), terminalPanel: $('terminal-panel'), log }, mounted);
  worker.onmessage = (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    switch (m.type) {
      case 'log':
        return log(m.level, m.message);
      case 'progress':
        return progress.progress(m.digest, m.loaded, m.total);
      case 'layer':
        return progress.layer(m.digest, m.bytes, m.lazy);
      case 'mounted':
        onMounted();
        return void mountedView(m.summary, source, vm);
      case 'vm-link':
        return log('info', `VM network link closed: ${m.reason}`);
      case 'error':
        onMountFailed(new Error(m.error.message));
        return showError(explainError(m.error));
      case 'listing':
      case 'file': {
        const done = pending.get(m.id);
        pending.delete(m.id);
        return done?.(m);
      }
    }
  };
  worker.onerror = (ev) => showError({ title: 'The mount worker failed to start.', lines: [ev.message || 'see the browser console'] });
  const open: OpenRequest = { type: 'open', ref: image };
  if (rings) open.rings = rings;
  if (credentials) open.credentials = credentials;
  const platform = params.get('platform') || defaultPlatform(vm);
  if (!params.get('platform') && platform) open.embeddedVm = true;
  const proxy = params.get('proxy');
  if (platform) open.platform = platform;
  if (proxy) open.proxy = proxy;
  worker.postMessage(open);
}

async function mountedView(s: MountedSummary, source: TreeSource, vm: VmChoice): Promise<void> {
  const pct = s.total > 0 ? ` (${((s.fetched / s.total) * 100).toFixed(1)}%)` : '';
  const lazy = s.lazy ? `, ${s.lazy.requests} range requests for lazy layers` : '';
  setStatus(`Mounted ${s.canonical} (${s.platform}).`);
  const summary = $('summary');
  summary.hidden = false;
  summary.replaceChildren(
    line(`rootfs served: ${s.entries} entries, fetched ${s.fetched} of ${s.total} bytes${pct}${lazy}`, 'served'),
    line(`manifest ${s.manifestDigest}; ${formatBytes(s.total)} of layers`, 'hint'),
    ...(vm.kind === 'none' ? [vmLine(vm.why)] : []),
  );
  const browserEl = $('browser');
  browserEl.hidden = false;
  const browser = new FileBrowser(browserEl, source);
  try {
    await browser.open('/');
  } catch (e) {
    showError({ title: 'Could not list the rootfs.', lines: [(e as Error).message] });
  }
}

function vmLine(why: 'asked' | 'nothing-served'): HTMLElement {
  const p = line(why === 'asked' ? 'no VM (?vm=none)' : 'no VM image given: see README for container2wasm VMs (?vm=)', 'vm');
  p.append(' — build one with ');
  const a = document.createElement('a');
  a.href = 'https://github.com/container2wasm/container2wasm';
  a.textContent = 'c2w --external-bundle';
  p.append(a, '; this page still pulls and mounts the image and lets you browse it.');
  return p;
}

function line(text: string, cls: string): HTMLElement {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  return p;
}

function setStatus(text: string): void {
  $('status').textContent = text;
}

function log(level: 'info' | 'warn', message: string): void {
  const logEl = $('log');
  logEl.hidden = false;
  const li = document.createElement('li');
  li.className = level;
  li.textContent = message;
  $('log-list').append(li);
}

function showError(x: { title: string; lines: string[] }): void {
  setStatus('Failed.');
  // A failure before the first layer leaves nothing worth showing in the progress panel.
  if (!document.querySelector('#progress tbody tr')) $('progress').hidden = true;
  const el = $('error');
  el.hidden = false;
  const h = document.createElement('h2');
  h.textContent = x.title;
  const ul = document.createElement('div');
  for (const l of x.lines) ul.append(line(l, 'detail'));
  el.replaceChildren(h, ul);
}

void main();
