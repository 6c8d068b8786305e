// Lazy eStargz pull against the full pull of the same image, both over real HTTP (a
// local static server with Range support): time and bytes until the rootfs is served
// (openImage returns) and until a first small file has been read. The full pull of the
// original gzip layout is the reference, measured in the same run.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openImage } from '../src/index.js';
import { convert } from '../src/cli/convert.js';
import { createNodeFetch, nodeCodecs } from '../src/node/index.js';
import { startStaticServer, type StaticServer } from '../test/helpers/static-server.js';
import { makeBenchLayout } from './layer-data.js';

const RUNS = 3;
/** A small file of the generated tree (d0/f0 is a few KiB of text). */
const SMALL_FILE = '/usr/share/bench/d0/f0.txt';
const root = fileURLToPath(new URL('../', import.meta.url));
const cache = `${root}.cache/bench/estargz`;

const original = await makeBenchLayout(`${cache}/gzip`);
const esgzDir = `${cache}/esgz`;
if (!existsSync(`${esgzDir}/done`)) {
  const t0 = Date.now();
  // Level 6 as the original's `gzip -6`, so both images differ only in layout.
  await convert(original.dir, { fetch: createNodeFetch(), codecs: nodeCodecs() }, esgzDir, { compressionLevel: 6 });
  writeFileSync(`${esgzDir}/done`, '');
  console.error(`converted to eStargz in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const esgzManifest = (() => {
  const index = JSON.parse(readFileSync(`${esgzDir}/index.json`, 'utf8')) as { manifests: { digest: string }[] };
  return JSON.parse(readFileSync(join(esgzDir, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { size: number }[] };
})();
const esgzBlobBytes = esgzManifest.layers.reduce((n, l) => n + l.size, 0);

interface Run {
  openSeconds: number;
  openBytes: number;
  openRequests: number;
  readSeconds: number;
  readBytes: number;
  requests: number;
}

/** Bytes the server sent for its logged requests (Range or whole file; HEADs count 0). */
function servedBytes(server: StaticServer, from: number): number {
  let n = 0;
  for (const r of server.log.slice(from)) {
    if (r.method !== 'GET' || (r.status !== 200 && r.status !== 206)) continue;
    const size = statSync(join(cache, r.path)).size;
    const m = /^bytes=(\d*)-(\d*)$/.exec(r.range ?? '');
    if (!m || r.status === 200) n += size;
    else if (!m[1]) n += Math.min(size, Number(m[2]));
    else n += Math.min(Number(m[2] || size - 1), size - 1) - Number(m[1]) + 1;
  }
  return n;
}

const server = await startStaticServer(cache);

async function measure(name: 'gzip' | 'esgz', lazy: boolean): Promise<Run> {
  (globalThis as { gc?: () => void }).gc?.();
  const from = server.log.length;
  const start = process.hrtime.bigint();
  const mounted = await openImage(`${server.url}/${name}`, { fetch: createNodeFetch(), codecs: nodeCodecs(), lazy });
  const openSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const openBytes = servedBytes(server, from);
  const openRequests = server.log.length - from;
  const inode = mounted.rootfs.lookup(SMALL_FILE);
  if (!inode || inode.type !== 'reg' || inode.size === 0) throw new Error(`${SMALL_FILE}: not a non-empty file in ${name}`);
  const bytes = await mounted.rootfs.read(inode, 0, inode.size);
  const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (bytes.length !== inode.size) throw new Error(`${SMALL_FILE}: read ${bytes.length} of ${inode.size} bytes`);
  const readBytes = servedBytes(server, from);
  return { openSeconds, openBytes, openRequests, readSeconds, readBytes, requests: server.log.length - from };
}

function best(runs: Run[]): Run {
  return runs.reduce((a, b) => (b.readSeconds < a.readSeconds ? b : a));
}

try {
  const full: Run[] = [];
  const lazy: Run[] = [];
  // Interleaved, so a slow spell of the machine hits both sides alike.
  for (let i = 0; i < RUNS; i++) {
    full.push(await measure('gzip', false));
    lazy.push(await measure('esgz', true));
  }
  const f = best(full);
  const l = best(lazy);
  const mib = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  console.log(
    `estargz: ${(original.tarBytes / 2 ** 20).toFixed(0)} MiB tar; gzip blob ${mib(original.blobBytes)}, eStargz blob ${mib(esgzBlobBytes)}; over HTTP (local static server, Range)`,
  );
  console.log(`  full pull (gzip, lazy: false): served ${ms(f.openSeconds)} / ${mib(f.openBytes)} / ${f.openRequests} requests; first small file ${ms(f.readSeconds)} / ${mib(f.readBytes)} / ${f.requests} requests`);
  console.log(`  lazy pull (eStargz):           served ${ms(l.openSeconds)} / ${mib(l.openBytes)} / ${l.openRequests} requests; first small file ${ms(l.readSeconds)} / ${mib(l.readBytes)} / ${l.requests} requests`);
  console.log(`  ratio time to rootfs (full / lazy): ${(f.openSeconds / l.openSeconds).toFixed(1)}x; to first file: ${(f.readSeconds / l.readSeconds).toFixed(1)}x`);
  console.log(`  ratio bytes to rootfs (lazy / full): ${(l.openBytes / f.openBytes).toFixed(4)}; to first file: ${(l.readBytes / f.readBytes).toFixed(4)}`);
} finally {
  await server.stop();
}
