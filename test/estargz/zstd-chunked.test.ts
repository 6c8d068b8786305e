// zstd:chunked output (estargz 0.12 flavour): blob structure, footer, annotations, TOC parity
// with the Go writer, and `convert --zstd-chunked` read back lazily by our reader.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decompress } from 'fzstd';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseFooter } from '../../estargz/footer.js';
import type { Toc } from '../../estargz/toc.js';
import { writeEstargz } from '../../estargz/writer.js';
import { convert } from '../../src/cli/convert.js';
import { manifestEntries, openImage, type ManifestEntry } from '../../src/index.js';
import { createNodeFetch } from '../../src/node/index.js';
import type { FixtureSet } from '../../fixtures/generate.js';
import { getFixtures } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/procs.js';
import { parseTar } from './tar-parse.js';

const GO = '/work/shared/fixtures/estargz';
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const fetch = createNodeFetch();

function tocOf(blob: Buffer) {
  const f = parseFooter(blob.subarray(blob.length - 51));
  if (f?.format !== 'zstd:chunked') throw new Error(`footer: ${JSON.stringify(f)}`);
  // The 40-byte footer is the payload of a skippable frame; so is the TOC frame.
  expect([...blob.subarray(blob.length - 48, blob.length - 40)]).toEqual([0x50, 0x2a, 0x4d, 0x18, 40, 0, 0, 0]);
  expect(blob.readUInt32LE(f.tocOffset - 4)).toBe(f.tocCompressedSize);
  expect([...blob.subarray(f.tocOffset - 8, f.tocOffset - 4)]).toEqual([0x50, 0x2a, 0x4d, 0x18]);
  expect(f.tocOffset + f.tocCompressedSize).toBe(blob.length - 48);
  const frame = blob.subarray(f.tocOffset, f.tocOffset + f.tocCompressedSize);
  const json = Buffer.from(decompress(frame));
  expect(json.length).toBe(f.tocSize);
  return { footer: f, frame, json, toc: JSON.parse(json.toString()) as Toc };
}

describe('writeEstargz({ compression: "zstd" })', () => {
  test.skipIf(!existsSync(join(GO, 'basic.tar')))('frames at TOC offsets, footer, digests, annotations, stream without TOC entry', async () => {
    const input = readFileSync(join(GO, 'basic.tar'));
    const r = await writeEstargz([input], { compression: 'zstd', chunkSize: 65536 });
    const blob = Buffer.concat(r.blob);
    expect(r.size).toBe(blob.length);
    expect(r.digest).toBe(sha(blob));
    expect(r.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    const { footer, frame, json, toc } = tocOf(blob);
    expect(r.tocDigest).toBe(sha(json));
    expect(r.annotations).toEqual({
      'containerd.io/snapshot/stargz/toc.digest': sha(json),
      'io.containers.estargz.uncompressed-size': String(r.uncompressedSize),
      'io.containers.zstd-chunked.manifest-checksum': sha(frame),
      'io.containers.zstd-chunked.manifest-position': `${footer.tocOffset}:${frame.length}:${json.length}:1`,
    });
    // Skippable frames are skipped: the stream is the tar entries only, no TOC entry, no end-of-archive.
    const stream = Buffer.from(decompress(blob));
    expect(stream.length).toBe(r.uncompressedSize);
    expect(r.diffId).toBe(sha(stream));
    const entries = await parseTar(stream);
    expect(entries.map((e) => e.name)).not.toContain('stargz.index.json');
    expect(entries[0]!.name).toBe('.no.prefetch.landmark');
    expect(stream.subarray(stream.length - 1024).some((b) => b !== 0)).toBe(true);
    // Every chunk's frame starts at its offset and decompresses to the chunk first.
    const content = new Map(entries.map((e) => [e.name, e.data]));
    const starts = [...new Set(toc.entries.flatMap((e) => (e.offset ? [e.offset] : [])))].sort((a, b) => a - b).concat(footer.tocOffset - 8);
    for (const e of toc.entries) {
      if (!e.offset) continue;
      const data = content.get(e.name)!;
      const from = e.chunkOffset ?? 0;
      const piece = data.subarray(from, from + (e.chunkSize ?? data.length - from));
      expect(e.chunkDigest).toBe(sha(piece));
      const k = starts.indexOf(e.offset);
      const out = Buffer.from(decompress(blob.subarray(e.offset, starts[k + 1])));
      expect(out.subarray(0, piece.length).equals(piece)).toBe(true);
    }
  }, 60_000);

  test.skipIf(!existsSync(join(GO, 'MANIFEST.json')))('same TOC as the Go writer (basic.zstdchunked) but offsets', async () => {
    const m = (JSON.parse(readFileSync(join(GO, 'MANIFEST.json'), 'utf8')) as { blobs: { file: string; chunkSize: number; prioritizedFiles: string[]; uncompressedSize: number; input: string }[] }).blobs.find((b) => b.file === 'basic.zstdchunked')!;
    const r = await writeEstargz([readFileSync(join(GO, m.input))], { compression: 'zstd', chunkSize: m.chunkSize, prioritized: m.prioritizedFiles });
    const ours = tocOf(Buffer.concat(r.blob)).toc;
    const go = tocOf(readFileSync(join(GO, m.file))).toc;
    const strip = (t: Toc) => t.entries.map(({ offset: _o, ...e }) => e);
    expect(strip(ours)).toEqual(strip(go));
    expect(r.uncompressedSize).toBe(m.uncompressedSize);
  }, 60_000);

  test('rejects a bad zstd level', async () => {
    await expect(writeEstargz([new Uint8Array(1024)], { compression: 'zstd', compressionLevel: 0 })).rejects.toThrow(RangeError);
  });
});

describe('convert --zstd-chunked', () => {
  let fx: FixtureSet;
  let out: string;
  beforeAll(async () => {
    fx = await getFixtures();
    out = join(tempDir('zstd-convert'), 'layout');
    await convert(fx.layers.dir, { fetch }, out, { chunkSize: 65536, zstdChunked: true });
  }, 120_000);

  const entries = async (ref: string, lazy: boolean) => {
    const img = await openImage(ref, { fetch, lazy });
    const list: ManifestEntry[] = [];
    for await (const e of manifestEntries(img.rootfs)) list.push(e);
    return { img, list };
  };
  const roundSecond = (iso: string) => {
    const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(iso)!;
    return new Date((Date.parse(m[1] + 'Z') / 1000 + (Number(m[2]) >= 5e8 ? 1 : 0)) * 1000).toISOString();
  };

  test('tar+zstd layers with the zstd:chunked annotations', () => {
    const blob = (d: string) => readFileSync(join(out, 'blobs/sha256', d.slice(7)));
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
    expect(manifest.layers).toHaveLength(fx.layers.layers.length);
    for (const l of manifest.layers) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
      const b = blob(l.digest);
      expect(b.length).toBe(l.size);
      const { footer, frame, json } = tocOf(b);
      expect(l.annotations['containerd.io/snapshot/stargz/toc.digest']).toBe(sha(json));
      expect(l.annotations['io.containers.zstd-chunked.manifest-checksum']).toBe(sha(frame));
      expect(l.annotations['io.containers.zstd-chunked.manifest-position']).toBe(`${footer.tocOffset}:${frame.length}:${json.length}:1`);
      expect(Number(l.annotations['io.containers.estargz.uncompressed-size'])).toBe(decompress(b).length);
    }
  });

  test('reads back lazily to the source tree (mtimes to the second)', async () => {
    const source = (await entries(fx.layers.dir, false)).list;
    const { img, list } = await entries(out, true);
    expect(img.lazy).toBeDefined();
    const hide = (l: ManifestEntry[]) => l.filter((e) => !e.path.endsWith('.no.prefetch.landmark')).map((e) => ({ ...e, mtime: roundSecond(e.mtime) }));
    expect(hide(list)).toEqual(hide(source));
  }, 60_000);
});
