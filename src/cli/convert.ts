// `imagemounter convert SRC --out DIR [--estargz | --zstd-chunked]`: pulls an image, rewrites
// every layer as eStargz (gzip, default) or zstd:chunked (estargz 0.12 flavour) and writes an OCI Image Layout (one manifest tagged `latest`) that
// `skopeo copy oci:DIR:latest docker://…` can push. Node only (writes files).
import { mkdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openLayer, resolveImage, type Descriptor, type PullOptions } from '../../oci/index.js';
import { writeEstargz } from '../../estargz/writer.js';

export interface ConvertFlags {
  /** Chunk size in bytes; default 4 MiB. */
  chunkSize?: number;
  /** A file listing one path per line to put first (`.prefetch.landmark`); `#` comments and blank lines ignored. */
  prioritize?: string;
  /** gzip level (default 9 as Go's `Build`), or zstd level with `zstdChunked` (default 3). */
  compressionLevel?: number;
  /** Write zstd:chunked layers (`tar+zstd`, manifest checksum/position annotations) instead of eStargz. */
  zstdChunked?: boolean;
  /** Called after each layer with its index and new descriptor. */
  onLayer?: (index: number, total: number, desc: Descriptor) => void;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export async function convert(ref: string, opts: PullOptions, out: string, flags: ConvertFlags = {}): Promise<void> {
  const prioritized = flags.prioritize ? parseList(await readFile(flags.prioritize, 'utf8')) : undefined;
  const image = await resolveImage(ref, opts);
  const blobs = join(out, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await writeFile(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [i, src] of image.layers.entries()) {
    const layer = await writeEstargz(openLayer(image, src, opts), {
      chunkSize: flags.chunkSize,
      prioritized,
      compressionLevel: flags.compressionLevel,
      compression: flags.zstdChunked ? 'zstd' : 'gzip',
    });
    await writeBlob(blobs, layer.digest, layer.blob);
    const desc: Descriptor = {
      mediaType: layer.mediaType,
      digest: layer.digest,
      size: layer.size,
      annotations: layer.annotations,
    };
    layers.push(desc);
    diffIds.push(layer.diffId);
    if (layer.missedPrioritized.length) opts.logger?.warn?.(`layer ${i + 1}: prioritized files not found: ${layer.missedPrioritized.join(', ')}`);
    flags.onLayer?.(i, image.layers.length, desc);
  }

  // The config as fetched, with only rootfs.diff_ids replaced (history and the rest kept).
  const config = JSON.parse(new TextDecoder().decode(image.configBytes)) as Record<string, unknown>;
  config.rootfs = { ...(config.rootfs as object | undefined), type: 'layers', diff_ids: diffIds };
  const configDesc = await putJson(blobs, OCI_CONFIG, config);
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers };
  const manifestDesc = await putJson(blobs, OCI_MANIFEST, manifest);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...manifestDesc, platform: image.platform, annotations: { [REF_NAME]: 'latest' } }],
  };
  await writeFile(join(out, 'index.json'), JSON.stringify(index));
}

/** One path per line; blank lines and `#` comments skipped. */
export function parseList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

async function putJson(blobs: string, mediaType: string, doc: unknown): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeBlob(blobs, digest, [bytes]);
  return { mediaType, digest, size: bytes.length };
}

/** Writes a blob under a temporary name, then renames it into place. */
async function writeBlob(blobs: string, digest: string, chunks: Uint8Array[]): Promise<void> {
  const final = join(blobs, digest.slice('sha256:'.length));
  const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    for (const c of chunks) await fh.write(c);
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, final);
}
