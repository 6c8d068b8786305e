// Makes (once, cached) an OCI layout holding one large gzip layer that looks like a
// root filesystem: thousands of files of mixed sizes with text-like, compressible
// content. Deterministic: a seeded PRNG, fixed mtimes, `gzip -n`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';

const TARGET_BYTES = 216 * 2 ** 20;

export interface BenchLayout {
  dir: string;
  blobPath: string;
  tarBytes: number;
  blobBytes: number;
}

export async function makeBenchLayout(dir: string): Promise<BenchLayout> {
  const donePath = `${dir}/done.json`;
  if (existsSync(donePath)) return JSON.parse(readFileSync(donePath, 'utf8')) as BenchLayout;
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  const tarPath = `${dir}/layer.tar`;
  await writeTar(tarPath);
  execFileSync('bash', ['-c', `gzip -n -6 -c '${tarPath}' > '${dir}/layer.tar.gz'`]);
  const diffId = sha256File(tarPath);
  const layerDigest = sha256File(`${dir}/layer.tar.gz`);
  const blobPath = `${dir}/blobs/sha256/${layerDigest}`;
  execFileSync('mv', [`${dir}/layer.tar.gz`, blobPath]);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
  });
  const configDigest = putBlob(dir, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerDigest}`, size: statSync(blobPath).size }],
  });
  const manifestDigest = putBlob(dir, manifest);
  writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    `${dir}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestDigest}`, size: manifest.length }],
    }),
  );
  const layout = { dir, blobPath, tarBytes: statSync(tarPath).size, blobBytes: statSync(blobPath).size };
  execFileSync('rm', [tarPath]);
  writeFileSync(donePath, JSON.stringify(layout));
  return layout;
}

function putBlob(dir: string, text: string): string {
  const digest = createHash('sha256').update(text).digest('hex');
  writeFileSync(`${dir}/blobs/sha256/${digest}`, text);
  return digest;
}

function sha256File(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
}

async function writeTar(path: string): Promise<void> {
  const random = mulberry32(42);
  const corpus = textCorpus(random, 4 << 20);
  const tar = pack();
  const done = pipeline(tar, createWriteStream(path));
  let written = 0;
  for (let d = 0; written < TARGET_BYTES; d++) {
    const dirName = `usr/share/bench/d${d}`;
    tar.entry({ name: dirName, type: 'directory', mode: 0o755, mtime: new Date(1_700_000_000_000) });
    for (let f = 0; f < 40 && written < TARGET_BYTES; f++) {
      // Mostly small files with a long tail, as in a distribution's /usr.
      const size = Math.floor(random() < 0.9 ? random() * 16384 : random() * 2 ** 20);
      const start = Math.floor(random() * (corpus.length - size));
      await new Promise<void>((resolve, reject) =>
        tar.entry({ name: `${dirName}/f${f}.txt`, mode: 0o644, mtime: new Date(1_700_000_000_000) }, corpus.subarray(start, start + size), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      written += size;
    }
  }
  tar.finalize();
  await done;
}

function textCorpus(random: () => number, bytes: number): Buffer {
  const words = Array.from({ length: 2048 }, () =>
    Array.from({ length: 2 + Math.floor(random() * 9) }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join(''),
  );
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const word = words[Math.floor(random() * words.length)]! + (random() < 0.1 ? '\n' : ' ');
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
