// Builds small images (config, layers, manifests, indexes) into a FakeRegistry.
import { gzipSync } from 'node:zlib';
import type { Descriptor, Platform } from '../../oci/index.js';
import { FakeRegistry, utf8 } from './fake-registry.js';

export const T = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

/** Deterministic, mildly compressible bytes. */
export function content(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 7 === 0 ? (x >>> 24) : 97 + (i % 26);
  }
  return out;
}

export interface BuiltImage {
  manifest: { digest: string; size: number; bytes: Uint8Array };
  configDigest: string;
  configBytes: Uint8Array;
  layers: Descriptor[];
  /** Uncompressed contents of each layer. */
  plain: Uint8Array[];
}

export function pushImage(
  reg: FakeRegistry,
  repo: string,
  tag: string | undefined,
  o: { platform?: Platform; docker?: boolean; layers?: Uint8Array[]; layerType?: string } = {},
): BuiltImage {
  const platform = o.platform ?? { os: 'linux', architecture: 'amd64' };
  const plain = o.layers ?? [content(5000, 1), content(3000, 2)];
  const layers: Descriptor[] = plain.map((p) => {
    const blob = gzipSync(p);
    return { mediaType: o.layerType ?? (o.docker ? T.dockerGzip : T.ociGzip), digest: reg.addBlob(blob), size: blob.length };
  });
  const config = { ...platform, config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [] } };
  const configBytes = utf8(JSON.stringify(config));
  const configDigest = reg.addBlob(configBytes);
  const mediaType = o.docker ? T.dockerManifest : T.ociManifest;
  const doc = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: o.docker ? T.dockerConfig : T.ociConfig, digest: configDigest, size: configBytes.length },
    layers,
  };
  const manifest = reg.putManifest(repo, tag, doc, mediaType);
  return { manifest, configDigest, configBytes, layers, plain };
}

/** amd64, arm64/v8, riscv64 images under one index (plus an attestation entry). */
export function pushMultiPlatform(reg: FakeRegistry, repo: string, tag: string, docker = false) {
  const platforms: Platform[] = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    { os: 'linux', architecture: 'riscv64' },
  ];
  const images = platforms.map((p, i) => pushImage(reg, repo, undefined, { platform: p, docker, layers: [content(1000 + i, 10 + i)] }));
  const manifests: Descriptor[] = images.map((img, i) => ({
    mediaType: docker ? T.dockerManifest : T.ociManifest,
    digest: img.manifest.digest,
    size: img.manifest.size,
    platform: platforms[i]!,
  }));
  if (!docker) {
    manifests.unshift({
      mediaType: T.ociManifest,
      digest: images[0]!.manifest.digest,
      size: images[0]!.manifest.size,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
    });
  }
  const mediaType = docker ? T.dockerList : T.ociIndex;
  const index = reg.putManifest(repo, tag, { schemaVersion: 2, mediaType, manifests }, mediaType);
  return { index, images, platforms };
}
