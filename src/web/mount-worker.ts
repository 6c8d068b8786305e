// The mount worker: pulls and mounts the image with mountImage (IndexedDB as the pull
// cache), serves the VM's network on c2w's rings when the page gives them (the stack
// worker's job, so one pull serves both), and answers the page's listing and read
// requests from the mounted rootfs.
import { ImageError, IndexedDbCache, formatPlatform, mountImage, parseReference, writeMeta, type MountedImage, type Tree } from '../index.js';
import type { DirEntry, ErrorInfo, FromWorker, OpenRequest, ToWorker } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
let mounted: MountedImage | undefined;

self.addEventListener('message', (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'open') void open(m);
  else if (m.type === 'list') list(m.id, m.path);
  else if (m.type === 'read') void read(m.id, m.path, m.max);
});

async function open(req: OpenRequest): Promise<void> {
  try {
    const session = await mountImage({
      image: req.ref,
      cache: new IndexedDbCache({ logger: { warn: (message) => post({ type: 'log', level: 'warn', message }) } }),
      ...(req.platform ? { platform: req.platform } : {}),
      ...(req.proxy ? { proxy: req.proxy } : {}),
      ...(req.credentials ? { credentials: () => req.credentials } : {}),
      // A page should say what is wrong within seconds, not after a minute of backoff.
      retries: 2,
      retryDelayMs: 250,
      logger: {
        info: (message) => post({ type: 'log', level: 'info', message }),
        warn: (message) => post({ type: 'log', level: 'warn', message }),
      },
      onProgress: (p) => post({ type: 'progress', ...p }),
      onLayer: (l) => post({ type: 'layer', index: l.index, digest: l.digest, entries: l.entries, bytes: l.bytes, lazy: l.lazy === true }),
    });
    mounted = session.mounted;
    if (req.rings) {
      session.attachRings(req.rings, { onClose: (reason) => post({ type: 'vm-link', state: 'closed', reason }) });
      // c2w's VM waits for its HTTPS proxy's CA certificate on metaFromNet; there is no
      // such proxy here, so it gets an empty one, marked complete.
      await writeMeta(req.rings, new Uint8Array(0));
    }
    const { image, rootfs, lazy } = mounted;
    let entries = 0;
    for (const _ of rootfs.walk()) entries++;
    const total = image.layers.reduce((n, l) => n + l.size, 0);
    // Layers pulled whole were fetched whole; lazy ones only as far as Range requests went.
    const fetched = total - (lazy?.blobBytes ?? 0) + (lazy?.bytesFetched ?? 0);
    post({
      type: 'mounted',
      summary: {
        ref: req.ref,
        canonical: image.reference.canonical,
        platform: formatPlatform(image.platform),
        manifestDigest: image.manifestDigest,
        entries,
        fetched,
        total,
        ...(lazy ? { lazy: { ...lazy } } : {}),
      },
    });
  } catch (e) {
    const error = describeError(e, req);
    if (error.code === 'NETWORK' && error.crossOrigin && !error.proxied && error.target) {
      const status = await probe(req.ref, error.target);
      if (status !== undefined) error.probeStatus = status;
    }
    post({ type: 'error', error });
  }
}

function describeError(e: unknown, req: OpenRequest): ErrorInfo {
  const err = e instanceof Error ? e : new Error(String(e));
  let target: string | undefined;
  try {
    const ref = parseReference(req.ref);
    target = req.proxy ?? (ref.kind === 'registry' ? ref.apiBase : ref.baseUrl);
  } catch {
    // A bad reference has no target; the message says what is wrong with it.
  }
  let crossOrigin = false;
  if (target) {
    try {
      crossOrigin = new URL(target).origin !== self.location.origin;
    } catch {
      // Not a URL: leave it same-origin.
    }
  }
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return {
    ...(err instanceof ImageError ? { code: err.code } : {}),
    message: err.message,
    ...(cause ? { cause } : {}),
    ref: req.ref,
    ...(target ? { target } : {}),
    crossOrigin,
    proxied: req.proxy !== undefined,
    ...(req.credentials ? { withCredentials: true } : {}),
    ...(req.embeddedVm ? { embeddedVm: true } : {}),
  };
}

/**
 * A request the browser sends without a preflight. Its status tells a registry that needs
 * credentials (401: the preflight of the real request, which sends Accept, was refused
 * too) or lacks only preflight support, from one that sends no CORS headers at all.
 */
async function probe(ref: string, target: string): Promise<number | undefined> {
  const url = parseReference(ref).kind === 'registry' ? `${target}/v2/` : `${target}/index.json`;
  try {
    const res = await fetch(url, { credentials: 'omit' });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  } catch {
    return undefined;
  }
}

function resolveDir(tree: Tree, path: string) {
  const inode = tree.lookup(path);
  if (!inode) throw new Error(`${path}: no such file or directory`);
  return inode;
}

function list(id: number, path: string): void {
  try {
    if (!mounted) throw new Error('no image mounted');
    const dir = resolveDir(mounted.rootfs, path);
    if (!dir.children) throw new Error(`${path}: not a directory`);
    // Byte order of the names, as `imagemounter ls` sorts them.
    const entries: DirEntry[] = [...dir.children]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, c]) => ({ name, type: c.type, size: c.size, mode: c.mode, ...(c.linkTarget !== undefined ? { linkTarget: c.linkTarget } : {}) }));
    post({ type: 'listing', id, path, entries });
  } catch (e) {
    post({ type: 'listing', id, path, error: (e as Error).message });
  }
}

async function read(id: number, path: string, max: number): Promise<void> {
  try {
    if (!mounted) throw new Error('no image mounted');
    const inode = resolveDir(mounted.rootfs, path);
    if (inode.type !== 'reg') throw new Error(`${path}: not a regular file (${inode.type})`);
    const bytes = await mounted.rootfs.read(inode, 0, Math.min(max, inode.size));
    const copy = bytes.slice();
    post({ type: 'file', id, path, size: inode.size, bytes: copy }, [copy.buffer]);
  } catch (e) {
    post({ type: 'file', id, path, error: (e as Error).message });
  }
}
