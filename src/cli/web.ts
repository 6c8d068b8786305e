// `imagemounter web`: serves the hosted page (and OCI layouts on disk under /layouts/NAME)
// with cross-origin isolation headers. Prints "listening URL" and runs until SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startVmBridge, type VmBridge } from '../node/vm-bridge.js';
import { startWebServer } from '../node/web-server.js';
import { parseListenSpec } from '../transport/index.js';
import { defaultVmCacheDir } from '../vm/assets.js';

/** dist/web next to the bundled CLI (dist/cli.js), or the repository's dist/web when run from source. */
function webRoot(): string {
  for (const rel of ['./web/', '../../dist/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error('web: the page is not built (run `npm run build`, which writes dist/web)');
}

const log = (m: string) => void process.stderr.write(`imagemounter: ${m}\n`);

export async function web(listen: string, layouts: string[], vmBridge?: string): Promise<void> {
  const spec = parseListenSpec(listen);
  if (spec.kind !== 'tcp') throw new Error(`web: --listen ${JSON.stringify(listen)}: expected tcp:HOST:PORT`);
  const extra: Record<string, string> = {};
  for (const l of layouts) {
    const m = /^([A-Za-z0-9._-]+)=(.+)$/.exec(l);
    if (!m) throw new Error(`web: --layout ${JSON.stringify(l)}: expected NAME=DIR`);
    if (!existsSync(`${m[2]}/index.json`)) throw new Error(`web: --layout ${m[1]}: ${m[2]} holds no index.json (not an OCI layout)`);
    extra[`/layouts/${m[1]}`] = m[2]!;
  }
  // The embedded VM's boot files, when `npm run vm-assets` has made them: the page boots
  // v86 when no ?vm= is given.
  const v86 = join(defaultVmCacheDir(), 'v86');
  if (existsSync(join(v86, 'assets.json'))) extra['/vm/v86'] = v86;
  else log('no embedded VM assets (run `npm run vm-assets`): the page will mount and browse images but run no VM');
  const server = await startWebServer({ root: webRoot(), host: spec.host, port: spec.port, extra });
  let bridge: VmBridge | undefined;
  if (vmBridge !== undefined) {
    bridge = await startVmBridge({ vm: parseListenSpec(vmBridge), wsHost: spec.host, logger: { info: log, warn: log } });
    process.stdout.write(`vm-bridge ${bridge.vmAddress} ${bridge.wsUrl}\n`);
  }
  process.stdout.write(`listening ${server.url}\n`);
  for (const name of Object.keys(extra).filter((p) => p.startsWith('/layouts/'))) process.stdout.write(`layout ${server.url}${name} → ${server.url}/?image=${encodeURIComponent(server.url + name)}\n`);
  await new Promise<void>((done) => {
    const stop = () => void Promise.all([server.close(), bridge?.close()]).then(() => done());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
