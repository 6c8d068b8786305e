// Worker entry for rings-guest.test.ts (bundled with esbuild, run by worker_threads): the
// real stack worker (src/web/stack-worker.ts) in a Node worker, after the environment shim.
import './rings-worker-env.js';
import '../../src/web/stack-worker.js';
