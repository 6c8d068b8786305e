// Validation of an untrusted TOC and its mapping to layer entries. Pure: JSON bytes in,
// entries + chunk lists out; no I/O.

import { ImageError } from '../oci/errors.js';
import { normalisePath } from '../src/fs/paths.js';
import type { TarEntry, TarEntryType } from '../src/fs/tar.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME, type Toc, type TocEntry, type TocEntryType } from './toc.js';

/** One chunk of a regular file: `length` bytes at `fileOffset`, stored in the member at `blobOffset`. */
export interface TocChunk {
  fileOffset: number;
  length: number;
  blobOffset: number;
  digest: string;
}

/** A layer entry from the TOC; a regular file with data lists its chunks. */
export interface TocFile {
  entry: TarEntry;
  chunks: TocChunk[];
}

export interface ParsedToc {
  files: TocFile[];
  /** Which landmark the TOC holds and its data's blob offset. */
  landmark?: { name: typeof PREFETCH_LANDMARK | typeof NO_PREFETCH_LANDMARK; offset: number };
}

const TYPES: Record<TocEntryType, TarEntryType | 'chunk'> = {
  dir: 'dir', reg: 'reg', symlink: 'symlink', hardlink: 'link', char: 'char', block: 'block', fifo: 'fifo', chunk: 'chunk',
};
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/**
 * Parse and check a TOC: JSON shape and field types, offsets inside [0, tocOffset),
 * chunk entries contiguous after their `reg`, names safe (BAD_PATH otherwise, as for tar
 * layers). Landmarks and a `stargz.index.json` entry are left out of `files`.
 */
export function parseToc(json: Uint8Array, tocOffset: number, layer: string): ParsedToc {
  const bad = (why: string) => new ImageError('BAD_TAR', `TOC of layer ${layer}: ${why}`);
  let toc: Toc;
  try {
    toc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as Toc;
  } catch (e) {
    throw bad(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof toc !== 'object' || toc === null || !Array.isArray(toc.entries)) throw bad('no "entries" array');
  if (typeof toc.version !== 'number') throw bad('no numeric "version"');

  const out: ParsedToc = { files: [] };
  const offsets = new Set<number>();
  let open: { file: TocFile; path: string; size: number; next: number } | undefined;
  const close = () => {
    if (open && open.next !== open.size) throw bad(`${JSON.stringify(open.path)}: chunks cover ${open.next} of ${open.size} bytes`);
    open = undefined;
  };

  toc.entries.forEach((raw: unknown, i) => {
    const e = checkEntry(raw, i, bad);
    const parts = normalisePath(e.name, layer);
    const path = parts.join('/');
    const kind = TYPES[e.type];
    const size = e.size ?? 0;

    const chunkOf = (): TocChunk | undefined => {
      const fileOffset = e.chunkOffset ?? 0;
      const remaining = (open?.size ?? size) - fileOffset;
      const length = e.chunkSize ?? remaining;
      if (length === 0 && remaining === 0) return undefined;
      if (length <= 0 || length > remaining) throw bad(`${JSON.stringify(e.name)}: chunk [${fileOffset}, +${length}) outside the file`);
      if (e.offset === undefined || e.offset >= tocOffset) {
        throw bad(`${JSON.stringify(e.name)}: data offset ${e.offset} is not inside the blob's payload [0, ${tocOffset})`);
      }
      if (offsets.has(e.offset)) throw bad(`${JSON.stringify(e.name)}: offset ${e.offset} used twice`);
      offsets.add(e.offset);
      if (e.chunkDigest === undefined || !DIGEST_RE.test(e.chunkDigest)) throw bad(`${JSON.stringify(e.name)}: missing or bad chunkDigest`);
      return { fileOffset, length, blobOffset: e.offset, digest: e.chunkDigest };
    };

    if (kind === 'chunk') {
      if (!open || open.path !== path) throw bad(`chunk entry ${JSON.stringify(e.name)} does not follow its reg entry`);
      if ((e.chunkOffset ?? 0) !== open.next) throw bad(`${JSON.stringify(e.name)}: chunkOffset ${e.chunkOffset} where ${open.next} was expected`);
      const c = chunkOf();
      if (c) {
        open.file.chunks.push(c);
        open.next += c.length;
      }
      return;
    }
    close();

    const hidden = path === TOC_TAR_NAME || path === PREFETCH_LANDMARK || path === NO_PREFETCH_LANDMARK;
    const file: TocFile = { entry: toTarEntry(e, kind, size, bad), chunks: [] };
    if (kind === 'reg') {
      if (e.chunkOffset) throw bad(`${JSON.stringify(e.name)}: reg entry with chunkOffset ${e.chunkOffset}`);
      open = { file, path, size, next: 0 };
      const c = chunkOf();
      if (c) {
        file.chunks.push(c);
        open.next = c.length;
      }
      if ((path === PREFETCH_LANDMARK || path === NO_PREFETCH_LANDMARK) && c) out.landmark = { name: path, offset: c.blobOffset };
    }
    if (!hidden) out.files.push(file);
  });
  close();
  return out;
}

const NUMS = ['size', 'mode', 'uid', 'gid', 'offset', 'devMajor', 'devMinor', 'chunkOffset', 'chunkSize'] as const;
const STRS = ['modtime', 'linkName', 'userName', 'groupName', 'digest', 'chunkDigest'] as const;

function checkEntry(raw: unknown, i: number, bad: (why: string) => ImageError): TocEntry {
  if (typeof raw !== 'object' || raw === null) throw bad(`entry ${i} is not an object`);
  const e = raw as Record<string, unknown>;
  if (typeof e.name !== 'string') throw bad(`entry ${i} has no name`);
  if (typeof e.type !== 'string' || !Object.hasOwn(TYPES, e.type)) throw bad(`entry ${JSON.stringify(e.name)} has unknown type ${JSON.stringify(e.type)}`);
  for (const k of NUMS) {
    const v = e[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) throw bad(`entry ${JSON.stringify(e.name)}: ${k} is not a non-negative integer`);
  }
  for (const k of STRS) if (e[k] !== undefined && typeof e[k] !== 'string') throw bad(`entry ${JSON.stringify(e.name)}: ${k} is not a string`);
  if (e.xattrs !== undefined) {
    if (typeof e.xattrs !== 'object' || e.xattrs === null || Array.isArray(e.xattrs)) throw bad(`entry ${JSON.stringify(e.name)}: xattrs is not an object`);
    for (const v of Object.values(e.xattrs)) if (typeof v !== 'string') throw bad(`entry ${JSON.stringify(e.name)}: xattr value is not a string`);
  }
  return e as unknown as TocEntry;
}

function toTarEntry(e: TocEntry, type: TarEntryType, size: number, bad: (why: string) => ImageError): TarEntry {
  let sec = 0;
  if (e.modtime !== undefined) {
    const ms = Date.parse(e.modtime);
    if (!Number.isFinite(ms)) throw bad(`${JSON.stringify(e.name)}: bad modtime ${JSON.stringify(e.modtime)}`);
    sec = Math.floor(ms / 1000);
  }
  const xattrs = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(e.xattrs ?? {})) {
    let bin: string;
    try {
      bin = atob(v);
    } catch {
      throw bad(`${JSON.stringify(e.name)}: xattr ${k} is not base64`);
    }
    xattrs.set(k, Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }
  const entry: TarEntry = {
    name: e.name,
    type,
    mode: (e.mode ?? 0) & 0o7777,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size: type === 'reg' ? size : 0,
    mtime: { sec, nsec: 0 },
    devmajor: e.devMajor ?? 0,
    devminor: e.devMinor ?? 0,
    xattrs,
  };
  if (type === 'symlink' || type === 'link') entry.linkname = e.linkName ?? '';
  return entry;
}
