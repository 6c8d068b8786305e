// Serves a directory (an OCI Image Layout) over plain HTTP the way a static web host
// would: GET/HEAD, single byte ranges, CORS. `override` replaces chosen paths with
// other bytes or a status, for the malformed-input tests.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

export interface StaticServer {
  /** `http://127.0.0.1:PORT` — no trailing slash. */
  url: string;
  override(path: string, with_: { status?: number; body?: string | Uint8Array } | undefined): void;
  log: { method: string; path: string; range?: string; status: number }[];
  stop(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const overrides = new Map<string, { status?: number; body?: string | Uint8Array }>();
  const log: StaticServer['log'] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const entry = { method: req.method ?? 'GET', path, range: req.headers.range, status: 200 };
    log.push(entry);
    const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Content-Range, Content-Length' };
    const send = (status: number, body?: string | Uint8Array, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { ...cors, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const o = overrides.get(path);
    if (o) return send(o.status ?? 200, o.body ?? '');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405);
    const file = join(root, normalize(path));
    if (!file.startsWith(root)) return send(403);
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return send(404, 'not found');
      size = st.size;
    } catch {
      return send(404, 'not found');
    }
    const type = path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      // Suffix ranges (`bytes=-N`) count from the end, as RFC 9110 says.
      let start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size || start > end) return send(416, undefined, { 'content-range': `bytes */${size}` });
      start = Math.max(0, start);
      entry.status = 206;
      res.writeHead(206, { ...cors, 'content-type': type, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${size}`, 'accept-ranges': 'bytes' });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...cors, 'content-type': type, 'content-length': String(size), 'accept-ranges': 'bytes' });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    override: (p, w) => (w ? overrides.set(p, w) : overrides.delete(p)),
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
