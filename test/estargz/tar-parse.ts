// A tar parser for the writer tests (tar-stream with raw PAX, xattrs as base64).
import { extract } from 'tar-stream';
import { keepRawPax, RAW_PAX, type RawPax } from '../../src/fs/pax.js';

export interface Parsed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  data: Buffer;
  xattrs: Record<string, string>;
}

export async function parseTar(tar: Uint8Array): Promise<Parsed[]> {
  const ex = extract();
  keepRawPax(ex);
  const out: Parsed[] = [];
  const done = (async () => {
    for await (const s of ex) {
      const h = s.header as typeof s.header & { pax?: { [RAW_PAX]?: RawPax } };
      const parts: Buffer[] = [];
      for await (const c of s) parts.push(c as Buffer);
      const xattrs: Record<string, string> = {};
      for (const [k, v] of h.pax?.[RAW_PAX] ?? []) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = Buffer.from(v).toString('base64');
      out.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, linkname: h.linkname ?? '', data: Buffer.concat(parts), xattrs });
    }
  })();
  ex.end(Buffer.from(tar));
  await done;
  return out;
}

