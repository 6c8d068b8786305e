import { existsSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { formatPlatform, manifestEntries, openImage, resolveImage, type OpenImageOptions } from '../index.js';
import { fetchedLine } from './report.js';
import { createNodeFetch, nodeCodecs, nodeCredentials } from '../node/index.js';
import { DirCache, defaultCacheDir } from '../node/cache-dir.js';
import type { CliArgs } from './args.js';
import { formatLsLine, followPath } from './paths.js';
import { convert } from './convert.js';
import { createProgress } from './progress.js';
import { serve, serve9p } from './serve.js';
import { corsProxy } from './cors-proxy.js';
import { web } from './web.js';
import { run } from './run.js';

export async function runCommand(args: CliArgs): Promise<void> {
  if (args.command === 'cors-proxy') return corsProxy(args.listen, args.upstream);
  if (args.command === 'web') return web(args.listen, args.layouts, args.vmBridge);
  if (args.command === 'cache') return cache(args.image as 'ls' | 'clear');
  const image = localLayoutPath(args.image);
  const progress = createProgress(process.stderr, { notes: process.stderr.isTTY === true || args.debug });
  // Serving lazy layers: fill their chunk caches in the background (one-shot commands would
  // only blur their request counts); stopped when the command ends (shutdown).
  const background = new AbortController();
  const opts: OpenImageOptions = {
    lazyOptions: { backgroundFetch: (args.command === 'serve' || args.command === 'serve-9p' || args.command === 'run') && !args.noBackgroundFetch, backgroundSignal: background.signal },
    fetch: createNodeFetch(),
    codecs: nodeCodecs(),
    platform: args.platform,
    credentials: nodeCredentials({ username: args.username, password: args.password, env: process.env }),
    // Retries and skipped helpers are noise in scripts; what a user must know (offline use of the cache) is info.
    logger: { warn: (m) => progress.note(m), info: (m) => progress.say(m) },
    onProgress: progress.onProgress,
    ...(args.noCache ? {} : { cache: new DirCache(defaultCacheDir(), { logger: { warn: (m) => progress.note(m) } }) }),
    ...(args.proxy !== undefined ? { proxy: args.proxy } : {}),
  };
  try {
    switch (args.command) {
      case 'inspect':
        return await inspect(image, opts, args.json);
      case 'pull':
        return await pull(image, opts);
      case 'convert':
        return await convert(image, opts, args.out!, {
          ...(args.chunkSize ? { chunkSize: args.chunkSize } : {}),
          ...(args.prioritize ? { prioritize: args.prioritize } : {}),
          ...(args.zstdChunked ? { zstdChunked: true } : {}),
        });
      case 'manifest':
        return await manifest(image, opts);
      case 'ls':
        return await ls(image, opts, args.path ?? '/');
      case 'cat':
        return await cat(image, opts, args.path!);
      case 'serve':
        return await serve(image, opts, args.listen, args.pcap);
      case 'serve-9p':
        return await serve9p(image, opts, args.listen);
      case 'run':
        return await run(image, opts, args, progress);
    }
  } finally {
    background.abort();
    progress.done();
  }
}

/** A bare directory name (`./` optional) on disk means an OCI layout, not a registry. */
function localLayoutPath(image: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(image) || !existsSync(image)) return image;
  return statSync(image).isDirectory() ? resolvePath(image) : image;
}

async function inspect(ref: string, opts: OpenImageOptions, json: boolean): Promise<void> {
  const image = await resolveImage(ref, opts);
  const summary = {
    reference: image.reference.canonical,
    indexDigest: image.indexDigest,
    manifestDigest: image.manifestDigest,
    manifestMediaType: image.manifestMediaType,
    platform: formatPlatform(image.platform),
    availablePlatforms: image.availablePlatforms.map(formatPlatform),
    configDigest: image.configDigest,
    config: image.config,
    layers: image.layers.map(({ digest, mediaType, size }) => ({ digest, mediaType, size })),
  };
  if (json) return write(JSON.stringify(summary, null, 2) + '\n');
  const c = image.config.config ?? {};
  const lines = [
    `Reference:   ${summary.reference}`,
    ...(summary.indexDigest ? [`Index:       ${summary.indexDigest}`] : []),
    `Manifest:    ${summary.manifestDigest} (${summary.manifestMediaType})`,
    `Platform:    ${summary.platform}${summary.availablePlatforms.length > 1 ? ` (of ${summary.availablePlatforms.join(', ')})` : ''}`,
    `Config:      ${summary.configDigest}`,
    `Entrypoint:  ${JSON.stringify(c.Entrypoint ?? [])}`,
    `Cmd:         ${JSON.stringify(c.Cmd ?? [])}`,
    `WorkingDir:  ${c.WorkingDir || '/'}`,
    `User:        ${c.User || '(root)'}`,
    `Env:         ${(c.Env ?? []).join(' ')}`,
    `Layers:      ${summary.layers.length}`,
    ...summary.layers.map((l) => `  ${l.digest}  ${String(l.size).padStart(12)}  ${l.mediaType}`),
  ];
  write(lines.join('\n') + '\n');
}

async function pull(ref: string, opts: OpenImageOptions): Promise<void> {
  const lines: string[] = [];
  const mounted = await openImage(ref, {
    ...opts,
    onLayer: (l) => lines.push(`  ${l.digest}  ${l.lazy ? 'lazy' : 'full'}  ${l.entries} entries`),
  });
  const { image } = mounted;
  write(`${image.reference.canonical} ${formatPlatform(image.platform)} ${image.manifestDigest}\n${lines.join('\n')}\n${fetchedLine(mounted)}\n`);
}

async function manifest(ref: string, opts: OpenImageOptions): Promise<void> {
  const { tree } = await openImage(ref, opts);
  let batch = '';
  for await (const entry of manifestEntries(tree)) {
    batch += JSON.stringify(entry) + '\n';
    if (batch.length > 1 << 16) {
      await writeAsync(batch);
      batch = '';
    }
  }
  await writeAsync(batch);
}

async function ls(ref: string, opts: OpenImageOptions, path: string): Promise<void> {
  const { rootfs } = await openImage(ref, opts);
  const { inode, path: resolved } = followPath(rootfs, path);
  if (!inode.children) return write(formatLsLine(resolved, inode) + '\n');
  const lines = [...inode.children].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, child]) => formatLsLine(name, child));
  write(lines.join('\n') + (lines.length ? '\n' : ''));
}

async function cat(ref: string, opts: OpenImageOptions, path: string): Promise<void> {
  const { rootfs } = await openImage(ref, opts);
  const { inode, path: resolved } = followPath(rootfs, path);
  if (inode.type !== 'reg') throw new Error(`${resolved}: not a regular file (${inode.type})`);
  for (let offset = 0; offset < inode.size; ) {
    const bytes = await rootfs.read(inode, offset, Math.min(1 << 20, inode.size - offset));
    if (bytes.length === 0) break;
    await writeAsync(bytes);
    offset += bytes.length;
  }
}

async function cache(action: 'ls' | 'clear'): Promise<void> {
  const dir = defaultCacheDir();
  const store = new DirCache(dir);
  if (action === 'clear') {
    await store.clear();
    return write(`cleared ${dir}\n`);
  }
  const entries = await store.list();
  const lines = entries.map((e) => `${e.kind.padEnd(8)} ${String(e.size).padStart(12)}  ${new Date(e.lastUsed).toISOString()}  ${e.key}`);
  const total = entries.reduce((n, e) => n + e.size, 0);
  write(`${lines.join('\n')}${lines.length ? '\n' : ''}${entries.length} entries, ${total} bytes in ${dir}\n`);
}

function write(text: string): void {
  process.stdout.write(text);
}

function writeAsync(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
