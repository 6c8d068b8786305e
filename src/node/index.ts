// Node-only edges of the library: pass these as PullOptions.fetch / .credentials.
export { createNodeFetch } from './file-fetch.js';
export { nodeCredentials, normaliseAuthKey, type NodeCredentialOptions } from './credentials.js';
