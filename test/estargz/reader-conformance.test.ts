// Every eStargz / zstd:chunked reference blob available, opened lazily through openImage
// from an OCI layout, must give exactly the tree MANIFEST.json describes.
import { describe, expect, it } from 'vitest';
import { openImage, type Inode, type Tree } from '../../src/index.js';
import { availableFixtures, countingFetch, fixtureLayout, sha256, type ManifestEntry } from './helpers.js';

const LANDMARKS = new Set(['.prefetch.landmark', '.no.prefetch.landmark']);

async function contentDigest(tree: Tree, node: Inode): Promise<string> {
  return sha256(await tree.read(node, 0, node.size));
}

/** Compares the tree with the manifest entries (whiteouts applied, landmarks hidden). */
export async function expectMatchesManifest(tree: Tree, entries: ManifestEntry[]): Promise<void> {
  const expected = entries.filter((e) => !LANDMARKS.has(e.path) && !e.path.split('/').pop()!.startsWith('.wh.'));
  const paths = new Set(expected.map((e) => '/' + e.path));
  // Directories missing from the TOC are created implicitly.
  for (const p of [...paths]) for (let q = p.slice(0, p.lastIndexOf('/')); q; q = q.slice(0, q.lastIndexOf('/'))) paths.add(q);
  const got = [...tree.walk()].map(([p]) => p).filter((p) => p !== '/');
  expect(new Set(got)).toEqual(paths);
  for (const e of expected) {
    const node = tree.lookup(e.path);
    expect(node, e.path).toBeDefined();
    if (e.type === 'hardlink') {
      expect(node, e.path).toBe(tree.lookup(e.linkName!));
      continue;
    }
    const want = {
      type: e.type,
      mode: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: e.modtime ? Date.parse(e.modtime) / 1000 : 0,
      ...(e.type === 'reg' ? { size: e.size, sha256: e.sha256 } : {}),
      ...(e.type === 'symlink' ? { linkTarget: e.linkName } : {}),
      ...(e.type === 'char' || e.type === 'block' ? { rdev: { major: e.devMajor ?? 0, minor: e.devMinor ?? 0 } } : {}),
      xattrs: e.xattrs ?? {},
    };
    const n = node!;
    const actual = {
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      mtime: n.mtime.sec,
      ...(n.type === 'reg' ? { size: n.size, sha256: await contentDigest(tree, n) } : {}),
      ...(n.type === 'symlink' ? { linkTarget: n.linkTarget } : {}),
      ...(n.type === 'char' || n.type === 'block' ? { rdev: n.rdev } : {}),
      xattrs: Object.fromEntries([...n.xattrs].map(([k, v]) => [k, new TextDecoder().decode(v)])),
    };
    expect(actual, e.path).toEqual(want);
  }
}

describe('eStargz reader conformance (MANIFEST.json)', () => {
  for (const { info } of availableFixtures()) {
    it(`${info.file} (${info.format}) read lazily matches the manifest`, { timeout: 60_000 }, async () => {
      const counter = countingFetch();
      const mounted = await openImage(fixtureLayout(info), { fetch: counter.fetch });
      expect(mounted.lazy).toBeDefined();
      expect(mounted.lazy!.blobBytes).toBe(info.blobSize);
      // Footer + TOC only, before any file is read (plus a prefetch when there is a landmark for it).
      if (info.landmark !== '.prefetch.landmark') expect(mounted.lazy!.requests).toBe(2);
      await expectMatchesManifest(mounted.rootfs, info.entries);
      expect(mounted.rootfs.lookup('/stargz.index.json')).toBeUndefined();
      expect(mounted.lazy!.requests).toBe(counter.requests);
      expect(mounted.lazy!.bytesFetched).toBe(counter.bytes);
    });
  }

  it('a gzip eStargz layer pulled whole (lazy: false) gives the same files', async () => {
    const { info } = availableFixtures().find((f) => f.info.file === 'whiteout.esgz')!;
    const dir = fixtureLayout(info);
    const full = await openImage(dir, { fetch: countingFetch().fetch, lazy: false });
    expect(full.lazy).toBeUndefined();
    // A full pull shows the landmark and the TOC entry as files, as other tar readers do.
    expect(full.rootfs.lookup('/stargz.index.json')?.type).toBe('reg');
    for (const name of ['stargz.index.json', '.no.prefetch.landmark']) full.rootfs.unlink(full.rootfs.root, name);
    await expectMatchesManifest(full.rootfs, info.entries);
  });
});
