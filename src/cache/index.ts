// The one public entry of the pull cache: an IndexedDB implementation for browsers (the
// Node directory one is src/node/cache-dir.ts) and the shapes both implement, which live
// in oci/types.ts so the OCI client can use a cache without importing src/.
export type { PullCache, CachedManifest, CacheEntryInfo, BlobSink } from '../../oci/types.js';
export { chunkCacheOf, DEFAULT_MAX_BYTES } from './core.js';
export { IndexedDbCache, idbKeyValueStores, type IndexedDbCacheOptions, type KeyValueStore } from './indexeddb.js';
