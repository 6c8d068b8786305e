// TOC entries and JSON exactly as estargz v0.12.0 writes them (json.MarshalIndent with a
// tab, Go's field order, omitempty, Go's string escaping), so the TOC digest of the same
// entries matches the Go writer's.
import type { Toc, TocEntry } from './toc.js';
import type { WEntry } from './writer-tar.js';

/** Go's field order of TOCEntry. */
const FIELDS: (keyof TocEntry)[] = [
  'name', 'type', 'size', 'modtime', 'linkName', 'mode', 'uid', 'gid', 'userName', 'groupName',
  'offset', 'devMajor', 'devMinor', 'xattrs', 'digest', 'chunkOffset', 'chunkSize', 'chunkDigest',
];

/** `formatModtime`: RFC 3339 UTC rounded to the second; empty for mtime 0. */
export function formatModtime(sec: number, nsec: number): string | undefined {
  if (sec === 0) return undefined;
  const rounded = sec + (nsec >= 5e8 ? 1 : 0);
  const d = new Date(rounded * 1000);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Base64 of raw bytes without node:buffer. */
export function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Remembers the last user/group name written per id (Go's `nameIfChanged`). */
export class NameTracker {
  private users = new Map<number, string>();
  private groups = new Map<number, string>();
  user(id: number, name: string): string | undefined {
    return changed(this.users, id, name);
  }
  group(id: number, name: string): string | undefined {
    return changed(this.groups, id, name);
  }
}

function changed(m: Map<number, string>, id: number, name: string): string | undefined {
  if (!name || m.get(id) === name) return undefined;
  m.set(id, name);
  return name;
}

/** The TOC entry of a tar entry, before offsets and digests are known. */
export function tocEntryOf(e: WEntry, names: NameTracker): TocEntry {
  const t: TocEntry = {
    name: e.name,
    type: e.type,
    size: e.type === 'reg' ? e.size : undefined,
    modtime: formatModtime(e.mtimeSec, e.mtimeNsec),
    linkName: e.type === 'symlink' || e.type === 'hardlink' ? e.linkname : undefined,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    userName: names.user(e.uid, e.uname),
    groupName: names.group(e.gid, e.gname),
  };
  if (e.type === 'char' || e.type === 'block') {
    t.devMajor = e.devmajor;
    t.devMinor = e.devminor;
  }
  if (e.xattrs.size) {
    const x: Record<string, string> = {};
    for (const k of [...e.xattrs.keys()].sort(byBytes)) x[k] = base64(e.xattrs.get(k)!);
    t.xattrs = x;
  }
  return t;
}

function byBytes(a: string, b: string): number {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The TOC JSON bytes, byte-identical to Go's `json.MarshalIndent(toc, "", "\t")`. */
export function marshalToc(toc: Toc): Uint8Array {
  const entries = toc.entries.map((e) => {
    const o: Record<string, unknown> = {};
    for (const f of FIELDS) {
      const v = e[f];
      if (v === undefined || v === 0 || v === '') continue;
      if (f === 'xattrs' && Object.keys(v as object).length === 0) continue;
      o[f] = v;
    }
    return o;
  });
  const json = JSON.stringify({ version: toc.version, entries }, null, '\t');
  // Go escapes <, >, &, U+2028, U+2029 and writes \b, \f as \u00XX (Go 1.19).
  const goJson = json.replace(/\\[\\"bf]|[<>&\u2028\u2029]/g, (m) => {
    if (m === '\\b') return '\\u0008';
    if (m === '\\f') return '\\u000c';
    if (m.length === 2) return m;
    return '\\u' + m.charCodeAt(0).toString(16).padStart(4, '0');
  });
  return new TextEncoder().encode(goJson);
}
