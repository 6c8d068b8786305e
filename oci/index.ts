// The one public entry of the OCI client. Everything else in oci/ is internal.
export { ImageError, type ImageErrorCode } from './errors.js';
export { parseReference } from './reference.js';
export { parsePlatform, formatPlatform, platformMatches } from './platform.js';
export { layerCompression, type Compression } from './media-types.js';
export { decompressStream, sniffCompression, type DecompressOptions } from './decompress.js';
export { resolveImage, openBlob, openLayer, fetchBlobRange } from './resolve.js';
export { proxyFetch } from './proxy.js';
export { concat as concatBytes } from './http.js';
export * from './types.js';
