// Manifest and index documents: shape checks (so a bad document fails here, naming its
// URL, instead of as a TypeError deep inside) and platform selection within an index.
import { isDigest } from './digest.js';
import { ImageError } from './errors.js';
import { OCI_INDEX, OCI_MANIFEST, isIndexType, isManifestType } from './media-types.js';
import { formatPlatform, isAttestation, platformMatches } from './platform.js';
import { parseJson } from './source.js';
import type { Descriptor, Platform } from './types.js';

export type ManifestDoc =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[]; annotations?: Record<string, string> }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] };

// Types that say nothing about which document this is (plain file servers, layouts).
const UNINFORMATIVE = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

/** Parses a manifest or index; `typeHints` (descriptor type, Content-Type) are used in order when the JSON has no mediaType. */
export function parseManifestDoc(bytes: Uint8Array, url: string, ...typeHints: (string | undefined)[]): ManifestDoc {
  const json = parseJson(bytes, `manifest at ${url}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed(url, 'not a JSON object');
  const doc = json as Record<string, unknown>;
  const hint = typeHints.find((t) => t !== undefined && !UNINFORMATIVE.has(t));
  let mediaType = typeof doc.mediaType === 'string' && doc.mediaType ? doc.mediaType : hint;
  if (doc.schemaVersion === 1 || mediaType?.includes('distribution.manifest.v1')) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${url}: Docker schema 1 manifests (${mediaType ?? 'schemaVersion 1'}) are not supported; re-push the image with a current Docker or buildkit`);
  }
  mediaType ??= Array.isArray(doc.manifests) ? OCI_INDEX : 'config' in doc ? OCI_MANIFEST : undefined;
  if (mediaType === undefined) throw malformed(url, 'no mediaType and neither "manifests" nor "config"');
  if (doc.schemaVersion !== 2) throw malformed(url, `schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw malformed(url, '"manifests" is not an array');
    const manifests = doc.manifests.map((d, i) => descriptor(d, url, `manifests[${i}]`));
    return { kind: 'index', mediaType, manifests, ...(isStringMap(doc.annotations) ? { annotations: doc.annotations } : {}) };
  }
  if (isManifestType(mediaType)) {
    if (!Array.isArray(doc.layers)) throw malformed(url, '"layers" is not an array');
    return {
      kind: 'manifest',
      mediaType,
      config: descriptor(doc.config, url, 'config'),
      layers: doc.layers.map((d, i) => descriptor(d, url, `layers[${i}]`)),
    };
  }
  throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${url}: unsupported manifest media type "${mediaType}"`);
}

function malformed(url: string, why: string): ImageError {
  return new ImageError('MALFORMED_MANIFEST', `malformed manifest at ${url}: ${why}`);
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

function descriptor(v: unknown, url: string, where: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw malformed(url, `${where} is not a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw malformed(url, `${where}.mediaType is missing`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw malformed(url, `${where}.digest ${JSON.stringify(d.digest)} is not a valid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw malformed(url, `${where}.size ${JSON.stringify(d.size)} is not a byte count`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (isStringMap(d.annotations)) out.annotations = d.annotations;
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  const p = d.platform as Record<string, unknown> | undefined;
  if (p && typeof p === 'object') {
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') throw malformed(url, `${where}.platform needs os and architecture`);
    out.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant ? { variant: p.variant } : {}) };
    if (typeof p['os.version'] === 'string') out.platform['os.version'] = p['os.version'];
  }
  return out;
}

export function platformOf(d: Descriptor): Platform | undefined {
  return d.platform ? { os: d.platform.os, architecture: d.platform.architecture, ...(d.platform.variant ? { variant: d.platform.variant } : {}) } : undefined;
}

function isImageEntry(d: Descriptor): boolean {
  return !isAttestation(d.platform) && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest';
}

/** Picks the entry of an index for `want`; exact variant matches beat implied ones. */
export function selectPlatform(manifests: Descriptor[], want: Platform, where: string): { desc: Descriptor; available: Platform[] } {
  const entries = manifests.filter(isImageEntry);
  const available = entries.map(platformOf).filter((p): p is Platform => p !== undefined);
  if (entries.length === 1 && !entries[0]!.platform) return { desc: entries[0]!, available };
  const exact = entries.find((d) => d.platform && formatPlatform(platformOf(d)!) === formatPlatform(want));
  const loose = exact ?? entries.find((d) => d.platform && platformMatches(want, d.platform));
  if (!loose) {
    const list = available.length ? available.map(formatPlatform).join(', ') : 'none';
    throw new ImageError('NO_MATCHING_PLATFORM', `${where} has no image for ${formatPlatform(want)}; available platforms: ${list}`);
  }
  return { desc: loose, available };
}
