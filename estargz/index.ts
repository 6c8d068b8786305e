// Public entry of the eStargz module.
export * from './toc.js';
export * from './footer.js';
export { openLazyLayer, type LazyLayer, type LazyLayerOptions } from './reader.js';
export { LazyStore, DEFAULT_CACHE_BYTES, type ChunkCache, type LazyStats, type LazyChunk, type LazyStoreOptions } from './lazy-store.js';
export { parseToc, type ParsedToc, type TocFile, type TocChunk } from './toc-parse.js';
export { writeEstargz, DEFAULT_CHUNK_SIZE, type EstargzWriteOptions, type EstargzLayer } from './writer.js';
