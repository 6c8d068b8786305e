// The eStargz writer: blob structure (members at TOC offsets, digests, footer, TOC),
// parity of the TOC with the Go reference writer, and a converted layout that skopeo,
// umoci and our own lazy reader accept.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { describe, expect, test } from 'vitest';
import { parseFooter } from '../../estargz/footer.js';
import { TOC_TAR_NAME, type Toc } from '../../estargz/toc.js';
import { writeEstargz, type EstargzWriteOptions } from '../../estargz/writer.js';
import { parseTar, type Parsed } from './tar-parse.js';

const GO = '/work/shared/fixtures/estargz';
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A small layer tar with every entry kind the TOC distinguishes. */
async function makeTar(): Promise<Buffer> {
  const p = pack();
  const mtime = new Date(1_700_000_000_000);
  const big = Buffer.alloc(100_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
  const add = (h: Record<string, unknown>, body?: Buffer) => p.entry({ mtime, uid: 0, gid: 0, uname: 'root', gname: 'root', ...h } as never, body ?? Buffer.alloc(0));
  add({ name: 'etc/', type: 'directory', mode: 0o755 });
  add({ name: 'etc/hostname', mode: 0o644 }, Buffer.from('box\n'));
  add({ name: 'etc/empty', mode: 0o600, uid: 1000, gid: 1000, uname: 'u', gname: 'g' }, Buffer.alloc(0));
  add({ name: 'bin/', type: 'directory', mode: 0o755 });
  add({ name: 'bin/tool', mode: 0o4755, pax: { 'SCHILY.xattr.user.test': 'hello-xattr', 'SCHILY.xattr.security.x': 'caps' } }, big);
  add({ name: 'bin/link', type: 'symlink', linkname: 'tool' });
  add({ name: 'bin/hard', type: 'link', linkname: 'bin/tool' });
  add({ name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 });
  add({ name: 'run/fifo', type: 'fifo', mode: 0o644 });
  add({ name: `deep/${'n'.repeat(120)}/file with spaces ü`, mode: 0o644 }, Buffer.from('x'));
  add({ name: 'etc/.wh.old', mode: 0 }, Buffer.alloc(0));
  add({ name: 'data/exact', mode: 0o644 }, big.subarray(0, 8192));
  p.finalize();
  const parts: Buffer[] = [];
  for await (const c of p) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function tocOf(blob: Buffer): { toc: Toc; json: Buffer; tocOffset: number } {
  const f = parseFooter(blob.subarray(blob.length - 51));
  expect(f?.format).toBe('estargz');
  const tocOffset = f!.tocOffset;
  const tar = gunzipSync(blob.subarray(tocOffset, blob.length - 51));
  expect(tar.subarray(0, TOC_TAR_NAME.length).toString()).toBe(TOC_TAR_NAME);
  expect(tar.length).toBe(512 + Math.ceil(parseInt(tar.subarray(124, 136).toString(), 8) / 512) * 512 + 1024);
  const json = tar.subarray(512, 512 + parseInt(tar.subarray(124, 136).toString(), 8));
  return { toc: JSON.parse(json.toString()) as Toc, json, tocOffset };
}

/** Checks one blob against its input tar; returns the TOC. */
async function check(input: Buffer, opts: EstargzWriteOptions): Promise<Toc> {
  const r = await writeEstargz([input], opts);
  const blob = Buffer.concat(r.blob);
  expect(r.size).toBe(blob.length);
  expect(r.digest).toBe(sha(blob));
  const stream = gunzipSync(blob); // every member, in order (the footer member is empty)
  expect(stream.length).toBe(r.uncompressedSize);
  expect(r.diffId).toBe(sha(stream));
  const { toc, json, tocOffset } = tocOf(blob);
  expect(r.tocDigest).toBe(sha(json));

  // The new tar holds the input's entries, the landmark and the TOC entry.
  const inEntries = (await parseTar(input)).filter((e) => !e.name.includes('landmark'));
  const out = await parseTar(stream);
  expect(out.at(-1)!.name).toBe(TOC_TAR_NAME);
  expect(out.at(-1)!.data.equals(json)).toBe(true);
  const landmark = opts.prioritized?.length ? '.prefetch.landmark' : '.no.prefetch.landmark';
  const lm = out.find((e) => e.name === landmark)!;
  expect(lm.data).toEqual(Buffer.from([0x0f]));
  const body = out.filter((e) => e !== lm && e.name !== TOC_TAR_NAME);
  const norm = (e: Parsed) => ({ ...e, data: sha(e.data) });
  const byName = (a: Parsed, b: Parsed) => (a.name < b.name ? -1 : 1);
  if (opts.prioritized?.length) expect(body.map(norm).sort(byName as never)).toEqual(inEntries.map(norm).sort(byName as never));
  else {
    expect(out[0]).toBe(lm);
    expect(body.map(norm)).toEqual(inEntries.map(norm));
  }
  // The TOC follows the new tar's order.
  expect(toc.entries.filter((e) => e.type !== 'chunk').map((e) => e.name)).toEqual(out.slice(0, -1).map((e) => e.name));

  // Members start at 0, at every TOC offset and at the TOC; each decompresses to the chunk's data first.
  const content = new Map(out.map((e) => [e.name, e.data]));
  const starts = [0, ...toc.entries.flatMap((e) => (e.offset ? [e.offset] : [])), tocOffset];
  expect(new Set(starts).size).toBe(starts.length);
  const chunk = opts.chunkSize ?? 4 << 20;
  toc.entries.forEach((e, i) => {
    if (e.type === 'reg') {
      expect(e.digest).toBe(sha(content.get(e.name)!));
      expect(e.size ?? 0).toBe(content.get(e.name)!.length);
    }
    if (e.type !== 'chunk' && !(e.type === 'reg' && e.size)) return expect(e.offset).toBeUndefined();
    const data = content.get(e.name)!;
    const from = e.chunkOffset ?? 0;
    const len = Math.min(chunk, data.length - from);
    expect(e.chunkSize).toBe(len === chunk ? chunk : undefined);
    const piece = data.subarray(from, from + len);
    expect(e.chunkDigest).toBe(sha(piece));
    const k = starts.indexOf(e.offset!);
    const member = gunzipSync(blob.subarray(starts[k]!, starts[k + 1]!));
    expect(member.subarray(0, len).equals(piece)).toBe(true);
    const next = toc.entries[i + 1];
    if (from + len < data.length) expect(next).toMatchObject({ name: e.name, type: 'chunk', chunkOffset: from + len });
  });
  return toc;
}

describe('writeEstargz', () => {
  test('generated tar: structure, digests, footer, TOC', async () => {
    const tar = await makeTar();
    const toc = await check(tar, { chunkSize: 8192 });
    const tool = toc.entries.find((e) => e.name === 'bin/tool')!;
    expect(tool).toMatchObject({ type: 'reg', mode: 0o4755, size: 100_000, chunkSize: 8192, modtime: '2023-11-14T22:13:20Z' });
    expect(tool.xattrs).toEqual({ 'security.x': btoa('caps'), 'user.test': btoa('hello-xattr') });
    expect(toc.entries.filter((e) => e.name === 'bin/tool')).toHaveLength(13);
    expect(toc.entries.find((e) => e.name === 'data/exact')).toMatchObject({ size: 8192, chunkSize: 8192 });
    expect(toc.entries.find((e) => e.name === 'dev/null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3 });
    expect(toc.entries.find((e) => e.name === 'bin/hard')).toMatchObject({ type: 'hardlink', linkName: 'bin/tool' });
    expect(toc.entries.find((e) => e.name === 'etc/empty')).toMatchObject({ uid: 1000, gid: 1000, userName: 'u', groupName: 'g', digest: sha(new Uint8Array()) });
    expect(toc.entries[0]).toEqual({ name: '.no.prefetch.landmark', type: 'reg', size: 1, offset: expect.any(Number), digest: sha(Buffer.from([15])), chunkDigest: sha(Buffer.from([15])) });
  });

  test('prioritized files come first with their parents and hard-link targets, then the landmark', async () => {
    const toc = await check(await makeTar(), { prioritized: ['bin/hard', 'etc/hostname', 'missing/file'] });
    const names = toc.entries.map((e) => e.name);
    expect(names.slice(0, 6)).toEqual(['bin/', 'bin/tool', 'bin/hard', 'etc/', 'etc/hostname', '.prefetch.landmark']);
  });

  test('rejects a bad chunk size', async () => {
    await expect(writeEstargz([await makeTar()], { chunkSize: 0 })).rejects.toThrow(RangeError);
  });
});

describe.skipIf(!existsSync(join(GO, 'MANIFEST.json')))('parity with the Go writer (estargz v0.12.0)', () => {
  const manifest = () => JSON.parse(readFileSync(join(GO, 'MANIFEST.json'), 'utf8')) as { blobs: { file: string; chunkSize: number; prioritizedFiles: string[]; procs: number; uncompressedSize: number; input: string; api: string }[] };
  const files = ['basic-noprefetch.esgz', 'basic-smallchunks.esgz', 'basic-prefetch.esgz', 'whiteout.esgz', 'basic.esgz'];
  test.each(files)('%s: same TOC but offsets, same uncompressed size', async (file) => {
    const m = manifest().blobs.find((b) => b.file === file)!;
    const input = readFileSync(join(GO, m.input));
    const opts = { chunkSize: m.chunkSize, prioritized: m.prioritizedFiles };
    const ours = await check(input, opts);
    const go = tocOf(readFileSync(join(GO, file))).toc;
    const strip = (t: Toc) => t.entries.map(({ offset: _o, ...e }) => e);
    // Go's Build with procs > 1 splits the layer in sub-blobs, each writing userName/groupName afresh.
    const names = (t: Toc) => strip(t).map(({ userName: _u, groupName: _g, ...e }) => e);
    if (m.procs === 1) expect(strip(ours)).toEqual(strip(go));
    else expect(names(ours)).toEqual(names(go));
    const r = await writeEstargz([input], opts);
    expect(r.uncompressedSize).toBe(m.uncompressedSize);
  });
});
