// Imported first by rings-stack-worker.ts: gives a worker_threads worker the bits of a
// browser worker that src/web/stack-worker.ts uses (`self.onmessage`, `self.postMessage`),
// and a global fetch that also reads file: URLs, so a local OCI layout can be mounted.
import { parentPort } from 'node:worker_threads';
import { createNodeFetch } from '../../src/node/index.js';

const port = parentPort!;
const scope = {
  onmessage: null as ((ev: { data: unknown }) => void) | null,
  postMessage: (m: unknown) => port.postMessage(m),
};
port.on('message', (data: unknown) => scope.onmessage?.({ data }));
(globalThis as unknown as { self: typeof scope }).self = scope;
globalThis.fetch = createNodeFetch(globalThis.fetch.bind(globalThis)) as typeof fetch;
