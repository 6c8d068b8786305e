// Ground truth for the served tree: walks a directory unpacked by umoci into the same
// entry shape the CLI's `manifest` prints, and diffs the two field by field.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** One line of `imagemounter manifest` output. */
export interface ManifestEntry {
  path: string;
  type: 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: string;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  linkTarget?: string;
  sha256?: string;
  xattrs?: Record<string, string>;
  mtime: string;
  rdev?: string;
}

export function parseManifest(stdout: string): Map<string, ManifestEntry> {
  const out = new Map<string, ManifestEntry>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as ManifestEntry;
    if (out.has(e.path)) throw new Error(`manifest lists ${e.path} twice`);
    out.set(e.path, e);
  }
  return out;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (b) => h.update(b)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

export function isoNanos(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${String(frac).padStart(9, '0')}Z`;
}

/** Entries under `dir`, named `${prefix}/relative/path` (the root itself is left out). */
export async function walkDir(dir: string, prefix = '/rootfs'): Promise<Map<string, ManifestEntry>> {
  const out = new Map<string, ManifestEntry>();
  const visit = async (abs: string, rel: string): Promise<void> => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const path = `${rel}/${name}`;
      const st = lstatSync(p, { bigint: true });
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'reg' : st.isSymbolicLink() ? 'symlink'
        : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'socket';
      const rdev = Number(st.rdev);
      const e: ManifestEntry = {
        path, type, mode: (Number(st.mode) & 0o7777).toString(8).padStart(4, '0'), uid: Number(st.uid), gid: Number(st.gid),
        size: Number(st.size), nlink: Number(st.nlink), mtime: isoNanos(st.mtimeNs),
      };
      if (type === 'symlink') e.linkTarget = readlinkSync(p);
      if (type === 'reg') e.sha256 = await sha256File(p);
      // Linux dev_t encoding (glibc's gnu_dev_major/minor).
      if (type === 'char' || type === 'block') e.rdev = `${(rdev >> 8) & 0xfff},${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
      out.set(path, e);
      if (type === 'dir') await visit(p, path);
    }
  };
  await visit(dir, prefix);
  return out;
}

/**
 * Differences between the CLI's entries and the unpacked reference, as readable lines.
 * Directory sizes and link counts are file-system artefacts (ext4 blocks, subdir
 * counts), so they are compared only for non-directories.
 */
export function diffTrees(actual: Map<string, ManifestEntry>, expected: Map<string, ManifestEntry>, opts: { mtime?: boolean } = {}): string[] {
  const diffs: string[] = [];
  for (const path of expected.keys()) if (!actual.has(path)) diffs.push(`missing ${path}`);
  for (const path of actual.keys()) if (!expected.has(path)) diffs.push(`unexpected ${path}`);
  for (const [path, exp] of expected) {
    const act = actual.get(path);
    if (!act) continue;
    const fields: (keyof ManifestEntry)[] = ['type', 'uid', 'gid', 'linkTarget', 'sha256', 'rdev'];
    if (exp.type !== 'dir') fields.push('size', 'nlink');
    if (opts.mtime !== false) fields.push('mtime');
    for (const f of fields) {
      if (act[f] !== exp[f]) diffs.push(`${path}: ${f} ${JSON.stringify(act[f])} != ${JSON.stringify(exp[f])}`);
    }
    if (parseInt(act.mode, 8) !== parseInt(exp.mode, 8)) diffs.push(`${path}: mode ${act.mode} != ${exp.mode}`);
  }
  return diffs;
}
