// `imagemounter cors-proxy`: forwards registry requests (token realms included) with CORS
// headers added, so a page can pull with PullOptions.proxy. Prints "listening URL" when
// ready and runs until SIGTERM or SIGINT.
import { startCorsProxy } from '../node/cors-proxy.js';
import { parseListenSpec } from '../transport/index.js';

const log = (m: string) => void process.stderr.write(`imagemounter: ${m}\n`);

export async function corsProxy(listen: string, upstream?: string): Promise<void> {
  const spec = parseListenSpec(listen);
  if (spec.kind !== 'tcp') throw new Error(`cors-proxy: --listen ${JSON.stringify(listen)}: expected tcp:HOST:PORT (browsers need TCP)`);
  const proxy = await startCorsProxy({
    host: spec.host,
    port: spec.port,
    ...(upstream !== undefined ? { upstream } : {}),
    logger: { warn: log },
  });
  process.stdout.write(`listening ${proxy.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void proxy.close().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
