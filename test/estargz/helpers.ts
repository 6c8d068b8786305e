// Shared helpers for the eStargz reader tests: fixture lookup, OCI layouts holding one
// eStargz layer, a counting fetch, and a tiny eStargz blob builder for hostile TOCs.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { estargzFooter } from '../../estargz/footer.js';
import type { FetchLike } from '../../oci/index.js';
import { createNodeFetch } from '../../src/node/index.js';
import { REPO } from '../helpers/fixtures.js';

export const LOCAL = join(REPO, 'fixtures/estargz');
export const SHARED = join(REPO, '../shared/fixtures/estargz');
export const HAVE_SHARED = existsSync(SHARED);

export interface ManifestEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  modtime?: string;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  sha256?: string;
  xattrs?: Record<string, string>;
}
export interface BlobInfo {
  file: string;
  format: string;
  compression: string;
  diffID: string;
  blobDigest: string;
  blobSize: number;
  tocOffset: number;
  tocDigest: string;
  annotations: Record<string, string>;
  landmark: string;
  entries: ManifestEntry[];
}

export const MANIFEST = JSON.parse(readFileSync(join(LOCAL, 'MANIFEST.json'), 'utf8')) as { blobs: BlobInfo[] };
export const blobInfo = (file: string) => MANIFEST.blobs.find((b) => b.file === file)!;

/** Fixture files present: the copied ones always, the shared ones when the directory exists. */
export function availableFixtures(): { info: BlobInfo; path: string }[] {
  return MANIFEST.blobs.flatMap((info) => {
    const local = join(LOCAL, info.file);
    if (existsSync(local)) return [{ info, path: local }];
    const shared = join(SHARED, info.file);
    return HAVE_SHARED && existsSync(shared) ? [{ info, path: shared }] : [];
  });
}

export const sha256 = (b: Uint8Array) => 'sha256:' + createHash('sha256').update(b).digest('hex');

const root = mkdtempSync(join(tmpdir(), 'estargz-reader-'));
let n = 0;

/** An OCI layout dir with one image whose single layer is `blob` (stored under `digest`). */
export function writeLayout(
  blob: Uint8Array,
  o: { annotations?: Record<string, string>; mediaType?: string; diffID?: string; digest?: string; size?: number } = {},
): string {
  const dir = join(root, `l${n++}`);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Uint8Array, d = sha256(b)) => {
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const layerDigest = put(blob, o.digest);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [o.diffID ?? sha256(new Uint8Array(0))] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: [{ mediaType: o.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: o.size ?? blob.length, ...(o.annotations ? { annotations: o.annotations } : {}) }],
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: put(manifest), size: manifest.length }] }));
  return dir;
}

/** A layout for a MANIFEST.json fixture, with its real annotations and diffID. */
export function fixtureLayout(info: BlobInfo, blob: Uint8Array = readFileSync(fixturePath(info.file)), size = info.blobSize): string {
  const mediaType = `application/vnd.oci.image.layer.v1.tar+${info.compression === 'gzip' ? 'gzip' : 'zstd'}`;
  return writeLayout(blob, { annotations: info.annotations, mediaType, diffID: info.diffID, digest: info.blobDigest, size });
}

export function fixturePath(file: string): string {
  const local = join(LOCAL, file);
  return existsSync(local) ? local : join(SHARED, file);
}

export interface Counter {
  fetch: FetchLike;
  /** Requests for layer blobs (with or without Range) and the bytes they returned. */
  requests: number;
  bytes: number;
  ranges: string[];
}

/** createNodeFetch, counting blob requests; `ignoreRange` drops the Range header as a dumb server would. */
export function countingFetch(o: { ignoreRange?: boolean } = {}): Counter {
  const base = createNodeFetch();
  const c: Counter = {
    requests: 0,
    bytes: 0,
    ranges: [],
    fetch: async (url, init) => {
      const headers = new Headers(init?.headers);
      const isBlob = /\/blobs\/sha256\//.test(url);
      if (isBlob && headers.has('range')) {
        c.ranges.push(headers.get('range')!);
        if (o.ignoreRange) headers.delete('range');
      }
      const res = await base(url, { ...init, headers });
      if (!isBlob || !headers.has('range') && !o.ignoreRange) return res;
      c.requests++;
      const body = new Uint8Array(await res.arrayBuffer());
      c.bytes += body.length;
      return new Response(body, { status: res.status, headers: res.headers });
    },
  };
  return c;
}

/** A minimal ustar header + content + end-of-archive (checksum is filled in). */
function tarOne(name: string, data: Uint8Array): Uint8Array {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000000\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}

/**
 * An eStargz-shaped blob: one gzip member per file, then the TOC member and footer.
 * `edit` may tamper with the TOC entries before they are written.
 */
export function craftBlob(files: { name: string; data: Uint8Array }[], edit?: (entries: Record<string, unknown>[], tocOffset: number) => void) {
  const parts: Uint8Array[] = [];
  let off = 0;
  const entries: Record<string, unknown>[] = [];
  for (const f of files) {
    const member = gzipSync(f.data);
    entries.push({ name: f.name, type: 'reg', size: f.data.length, mode: 420, offset: off, digest: sha256(f.data), chunkDigest: sha256(f.data) });
    parts.push(member);
    off += member.length;
  }
  const tocOffset = off;
  edit?.(entries, tocOffset);
  const json = Buffer.from(JSON.stringify({ version: 1, entries }, null, '\t'));
  parts.push(gzipSync(tarOne('stargz.index.json', json)), estargzFooter(tocOffset));
  return { blob: Buffer.concat(parts), tocDigest: sha256(json) };
}

export interface Gate extends Counter {
  /** Hold the next blob Range request until `release()` (the ones after it pass). */
  holdNext(): void;
  /** Resolves with the Range header of the held request once it has been made. */
  held: Promise<string>;
  release(): void;
}

/** countingFetch whose next Range request can be held, to order background vs demand requests. */
export function gatedFetch(): Gate {
  const c = countingFetch();
  let arm = false;
  let onHeld!: (range: string) => void;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const g: Gate = {
    ...c,
    holdNext: () => void (arm = true),
    held: new Promise<string>((r) => (onHeld = r)),
    release: () => open(),
    fetch: async (url, init) => {
      const range = new Headers(init?.headers).get('range');
      if (arm && range && /\/blobs\/sha256\//.test(url)) {
        arm = false;
        onHeld(range);
        await opened;
      }
      const res = await c.fetch(url, init);
      g.requests = c.requests;
      g.bytes = c.bytes;
      return res;
    },
  };
  g.ranges = c.ranges;
  return g;
}
