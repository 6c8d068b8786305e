// One timed ingest of the benchmark layout through the library, as a user's pull would
// run it; prints a JSON line for ingest.bench.ts.
import { openImage } from '../src/index.js';
import { createNodeFetch, nodeCodecs } from '../src/node/index.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: ingest-run.ts LAYOUT_DIR');
const start = process.hrtime.bigint();
let entries = 0;
await openImage(dir, { fetch: createNodeFetch(), codecs: nodeCodecs(), onLayer: (l) => (entries += l.entries) });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ seconds, maxRssMiB, entries }) + '\n');
