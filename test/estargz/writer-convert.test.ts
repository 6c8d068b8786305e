// `convert`: a fixture image rewritten as eStargz is a valid OCI layout (skopeo, umoci)
// and reads back, lazily and eagerly, to the same tree as the source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { convert } from '../../src/cli/convert.js';
import { manifestEntries, openImage, type ManifestEntry } from '../../src/index.js';
import { createNodeFetch } from '../../src/node/index.js';
import { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from '../../estargz/toc.js';
import type { FixtureSet } from '../../fixtures/generate.js';
import { getFixtures } from '../helpers/fixtures.js';
import { run, tempDir } from '../helpers/procs.js';

const fetch = createNodeFetch();
let fx: FixtureSet;
let out: string;

beforeAll(async () => {
  fx = await getFixtures();
  out = join(tempDir('esgz-convert'), 'layout');
  await convert(fx.layers.dir, { fetch }, out, { chunkSize: 65536 });
});

async function entries(ref: string, lazy: boolean): Promise<ManifestEntry[]> {
  const img = await openImage(ref, { fetch, lazy });
  const list: ManifestEntry[] = [];
  for await (const e of manifestEntries(img.rootfs)) list.push(e);
  return list;
}

function roundSecond(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(iso)!;
  const sec = Date.parse(m[1] + 'Z') / 1000 + (Number(m[2]) >= 5e8 ? 1 : 0);
  return new Date(sec * 1000).toISOString();
}

describe('convert to eStargz', () => {
  test('layout: annotated gzip layers, config with new diff_ids and kept history', () => {
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('latest');
    const blob = (d: string) => readFileSync(join(out, 'blobs/sha256', d.slice(7)));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
    expect(manifest.layers).toHaveLength(fx.layers.layers.length);
    const config = JSON.parse(blob(manifest.config.digest).toString());
    expect(config.rootfs.diff_ids).toHaveLength(manifest.layers.length);
    const source = fx.layers.config as { history?: unknown };
    if (source.history) expect(config.history).toEqual(source.history);
    for (const l of manifest.layers) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(l.annotations[TOC_DIGEST_ANNOTATION]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(Number(l.annotations[UNCOMPRESSED_SIZE_ANNOTATION])).toBeGreaterThan(0);
      expect(blob(l.digest).length).toBe(l.size);
    }
  });

  test('skopeo inspects and copies it; umoci unpacks it (checking diff_ids)', async () => {
    const info = JSON.parse(await run('skopeo', ['inspect', `oci:${out}:latest`]));
    expect(info.Layers).toHaveLength(fx.layers.layers.length);
    await run('skopeo', ['copy', `oci:${out}:latest`, `dir:${join(tempDir('esgz-skopeo'), 'copy')}`]);
    await run('umoci', ['unpack', '--rootless', '--image', `${out}:latest`, join(tempDir('esgz-umoci'), 'bundle')]);
  });

  test('reads back to the source tree, lazily and eagerly', async () => {
    const source = await entries(fx.layers.dir, false);
    const hide = new Set(['/.no.prefetch.landmark', '/.prefetch.landmark', '/stargz.index.json']);
    const visible = (l: ManifestEntry[]) => l.filter((e) => !hide.has(e.path));
    // The TOC keeps mtimes to the second (rounded, as Go's formatModtime); the tar keeps nanoseconds.
    const seconds = (l: ManifestEntry[]) => l.map((e) => ({ ...e, mtime: roundSecond(e.mtime) }));
    const lazy = await entries(out, true);
    expect(seconds(visible(lazy))).toEqual(seconds(visible(source)));
    const eager = await entries(out, false);
    expect(visible(eager)).toEqual(visible(source));
  });

  test('a --prioritize list converts to a layout skopeo accepts and that reads back', async () => {
    const list = join(tempDir('esgz-prio'), 'list.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(list, '# first\nbin/busybox\n\n');
    const dir = join(tempDir('esgz-convert-prio'), 'layout');
    await convert(fx.small.dir, { fetch }, dir, { prioritize: list });
    const info = JSON.parse(await run('skopeo', ['inspect', `oci:${dir}:latest`]));
    expect(info.Layers.length).toBeGreaterThan(0);
    const small = await entries(fx.small.dir, false);
    const hide = (l: ManifestEntry[]) => l.filter((e) => !e.path.endsWith('landmark') && e.path !== '/stargz.index.json');
    expect(hide(await entries(dir, true))).toEqual(hide(small));
  });
});
