// Media type names (OCI image-spec and Docker's v2 equivalents) and what they mean to us.
import { ImageError } from './errors.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** Sent on every manifest GET; without it registries fall back to schema1 or refuse. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');

export type Compression = 'none' | 'gzip' | 'zstd';

const LAYERS: Record<string, Compression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
};

/** Strips parameters (`; charset=utf-8`) that some servers add to Content-Type. */
export function bareMediaType(t: string | null | undefined): string {
  return (t ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isIndexType(t: string): boolean {
  return t === OCI_INDEX || t === DOCKER_MANIFEST_LIST;
}

export function isManifestType(t: string): boolean {
  return t === OCI_MANIFEST || t === DOCKER_MANIFEST;
}

export function isConfigType(t: string): boolean {
  return t === OCI_CONFIG || t === DOCKER_CONFIG;
}

/**
 * How a layer blob is compressed, from its media type. Foreign / non-distributable
 * layers (Windows base layers) and anything that is not a layer are rejected: we could
 * not fetch or use them anyway.
 */
export function layerCompression(mediaType: string): Compression {
  const kind = LAYERS[bareMediaType(mediaType)];
  if (kind === undefined) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `unsupported layer media type "${mediaType}"`);
  }
  return kind;
}
