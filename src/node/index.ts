// Node-only edges of the library: pass these as PullOptions.fetch, .credentials and .codecs.
export { createNodeFetch } from './file-fetch.js';
export { nodeCredentials, normaliseAuthKey, type NodeCredentialOptions } from './credentials.js';
export { nodeCodecs } from './codecs.js';
export { startCorsProxy, type CorsProxy, type CorsProxyOptions } from './cors-proxy.js';
export * from '../transport/index.js';
export { DirCache, defaultCacheDir, type DirCacheOptions } from './cache-dir.js';
export { startWebServer, type WebServer, type WebServerOptions } from './web-server.js';
export { startVmBridge, type VmBridge, type VmBridgeOptions, type VmBridgeStats } from './vm-bridge.js';
