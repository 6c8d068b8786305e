// Serves the hosted page (dist/web) and, under chosen URL paths, OCI layouts on disk:
// static files with the right MIME types, single byte ranges (lazy pulls of layouts),
// and cross-origin isolation headers (COOP/COEP) so the page can use SharedArrayBuffer.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

export interface WebServerOptions {
  /** Directory served at `/` (the built page, dist/web). */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** URL path prefix → directory on disk, e.g. `{ '/layouts/app': './out/app' }`. */
  extra?: Record<string, string>;
}

export interface WebServer {
  /** `http://HOST:PORT`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'x-content-type-options': 'nosniff',
};
// Layouts may also be pulled by pages on other origins.
const LAYOUT_CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Range, Accept, Authorization',
  'access-control-expose-headers': 'Content-Range, Content-Length, Docker-Content-Digest',
};

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const mounts = Object.entries(opts.extra ?? {})
    .map(([prefix, dir]) => ({ prefix: '/' + prefix.replace(/^\/+|\/+$/g, ''), dir: resolve(dir), cors: true }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  mounts.push({ prefix: '/', dir: resolve(opts.root), cors: false });
  const server = createServer((req, res) => handle(req, res, mounts));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', ok);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function handle(req: IncomingMessage, res: ServerResponse, mounts: { prefix: string; dir: string; cors: boolean }[]): void {
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, {}, 'bad path');
  }
  const mount = mounts.find((m) => m.prefix === '/' || path === m.prefix || path.startsWith(m.prefix + '/'))!;
  const headers: Record<string, string> = { ...ISOLATION, ...(mount.cors ? LAYOUT_CORS : {}) };
  if (req.method === 'OPTIONS') return send(res, 204, { ...headers, 'access-control-allow-methods': 'GET, HEAD, OPTIONS' });
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ...headers, allow: 'GET, HEAD, OPTIONS' });
  const rel = mount.prefix === '/' ? path : path.slice(mount.prefix.length);
  let file = resolve(join(mount.dir, rel));
  if (file !== mount.dir && !file.startsWith(mount.dir + sep)) return send(res, 403, headers, 'forbidden');
  let size: number;
  try {
    let st = statSync(file);
    if (st.isDirectory()) {
      file = join(file, 'index.html');
      st = statSync(file);
    }
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    return send(res, 404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }, `not found: ${path}\n`);
  }
  headers['content-type'] = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
  headers['accept-ranges'] = 'bytes';
  headers['cache-control'] = 'no-cache';
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range && (range[1] || range[2])) {
    // Suffix ranges (`bytes=-N`) count from the end (RFC 9110).
    start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
    end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size || start > end) return send(res, 416, { ...headers, 'content-range': `bytes */${size}` });
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = String(size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return void res.end();
  createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
  res.writeHead(status, headers);
  res.end(body);
}
