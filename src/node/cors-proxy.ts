// A CORS proxy for registries that send no CORS headers (Docker Hub): a page pulls through
// it with PullOptions.proxy. Routing is by path prefix,
//   GET {proxy}/{scheme}/{host[:port]}/{path}?{query}  →  {scheme}://{host}/{path}?{query}
// or, with `upstream`, every {proxy}/{path} → {upstream}/{path}. GET and HEAD are
// forwarded, with the request headers a registry needs, and so are form POSTs (at most
// 64 KiB): the OAuth2 token request that trades a refresh (identity) token for an access
// token, which a browser can only send through here. Redirects (blob storage) are
// followed here, never taking Authorization to another origin; bodies stream with
// backpressure; a bearer challenge's realm is rewritten to point back through the proxy
// so the browser's token request gets CORS headers too.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FetchLike, Logger } from '../../oci/types.js';

export interface CorsProxyOptions {
  /** Interface to listen on; `127.0.0.1` keeps the (open) proxy private to this machine. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Forward every request to this base URL instead of routing by path prefix. */
  upstream?: string;
  /** How the proxy talks to registries; default globalThis.fetch. */
  fetch?: FetchLike;
  logger?: Logger;
}

export interface CorsProxy {
  /** `http://HOST:PORT`, the base to pass as PullOptions.proxy. */
  url: string;
  close(): Promise<void>;
}

const MAX_URL = 8192;
const MAX_FORM = 64 * 1024;
const FORM_TYPE = 'application/x-www-form-urlencoded';
const MAX_HOPS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const LOOP_HEADER = 'x-imagemounter-cors-proxy';
const FORWARD_REQUEST = ['authorization', 'accept', 'range', 'if-none-match', 'user-agent'];
const FORWARD_RESPONSE = ['content-type', 'content-length', 'content-range', 'docker-content-digest', 'www-authenticate', 'etag', 'retry-after', 'accept-ranges'];
const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Authorization, Accept, Range, Content-Type',
  'access-control-expose-headers': 'Content-Range, Content-Length, Docker-Content-Digest, WWW-Authenticate, Retry-After',
};
// host, IPv4 or [IPv6], optional port; no userinfo, no percent-escapes.
const AUTHORITY = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

class ProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startCorsProxy(opts: CorsProxyOptions): Promise<CorsProxy> {
  const fetchImpl: FetchLike = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const upstream = opts.upstream === undefined ? undefined : parseUpstream(opts.upstream);
  // With an upstream, the prefix form is only for token realms this proxy itself rewrote.
  const realmOrigins = new Set<string>();
  const sockets = new Set<Socket>();
  let listenUrl = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // Last resort: handle() reports its own failures; this only guards a broken socket.
      opts.logger?.warn?.(`cors-proxy: ${(e as Error)?.message ?? String(e)}`);
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS', 'access-control-max-age': '600', 'content-length': '0' });
      res.end();
      return;
    }
    let target: string;
    let form: Buffer | undefined;
    try {
      if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') throw new ProxyError(405, `method ${method} not allowed (GET, HEAD and form POST only)`);
      if (req.headers[LOOP_HEADER]) throw new ProxyError(508, 'request loops through the proxy');
      target = route(req.url ?? '');
      if (method === 'POST') form = await readForm(req);
    } catch (e) {
      if (e instanceof ProxyError) {
        sendText(res, e.status, e.message, e.status === 405 ? { allow: 'GET, HEAD, POST, OPTIONS' } : {});
        return;
      }
      throw e;
    }

    const abort = new AbortController();
    res.on('close', () => abort.abort());
    let upstreamRes: Response;
    try {
      upstreamRes = form
        ? await fetchImpl(target, { method, headers: { 'content-type': FORM_TYPE, accept: req.headers.accept ?? '*/*', 'accept-encoding': 'identity', [LOOP_HEADER]: '1' }, body: new Uint8Array(form), redirect: 'manual', signal: abort.signal })
        : await fetchFollowing(method, target, req, abort.signal);
    } catch (e) {
      if (abort.signal.aborted) return; // the client went away
      const status = e instanceof ProxyError ? e.status : 502;
      const why = e instanceof ProxyError ? e.message : `upstream ${safeOrigin(target)} unreachable: ${causeMessage(e)}`;
      opts.logger?.warn?.(`cors-proxy: ${method} ${target}: ${why}`);
      sendText(res, status, why);
      return;
    }

    const headers: Record<string, string> = { ...CORS };
    for (const name of FORWARD_RESPONSE) {
      const v = upstreamRes.headers.get(name);
      if (v !== null) headers[name] = v;
    }
    // fetch decodes a content-coding transparently, so its length no longer applies.
    const coding = upstreamRes.headers.get('content-encoding');
    if (coding && coding.toLowerCase() !== 'identity') delete headers['content-length'];
    if (headers['www-authenticate']) headers['www-authenticate'] = rewriteChallenge(headers['www-authenticate'], publicBase(req));
    res.writeHead(upstreamRes.status, headers);
    if (method === 'HEAD' || !upstreamRes.body) {
      await upstreamRes.body?.cancel().catch(() => {});
      res.end();
      return;
    }
    try {
      await pipeline(Readable.fromWeb(upstreamRes.body as NodeReadableStream<Uint8Array>), res);
    } catch (e) {
      // Mid-body failure: the status is sent, so all that is left is cutting the response short.
      if (!abort.signal.aborted) opts.logger?.warn?.(`cors-proxy: ${target}: body failed: ${causeMessage(e)}`);
      res.destroy();
    }
  }

  /** A token request's form body; anything else is refused (415, 413). */
  async function readForm(req: IncomingMessage): Promise<Buffer> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== FORM_TYPE) throw new ProxyError(415, `POST is forwarded only for token requests (${FORM_TYPE})`);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > MAX_FORM) throw new ProxyError(413, `form body larger than ${MAX_FORM} bytes`);
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  /** The upstream URL for a request path, or a ProxyError (400/403/414). */
  function route(raw: string): string {
    if (raw.length > MAX_URL) throw new ProxyError(414, 'request URL too long');
    if (!raw.startsWith('/')) throw new ProxyError(400, 'expected a path');
    const prefixed = /^\/(https?)\/([^/?#]+)([/?].*)?$/i.exec(raw);
    if (prefixed) {
      const scheme = prefixed[1]!.toLowerCase();
      const authority = prefixed[2]!.toLowerCase();
      if (!AUTHORITY.test(authority)) throw new ProxyError(400, `bad host ${JSON.stringify(authority.slice(0, 100))}`);
      const rest = prefixed[3] ?? '/';
      const target = checkTarget(`${scheme}://${authority}${rest.startsWith('/') ? rest : `/${rest}`}`);
      if (!upstream || realmOrigins.has(new URL(target).origin)) return target;
      throw new ProxyError(403, `${new URL(target).origin} is not this proxy's upstream`);
    }
    if (upstream) {
      const target = checkTarget(upstream + raw);
      if (target.startsWith(`${upstream}/`) || target.startsWith(`${upstream}?`)) return target;
      throw new ProxyError(400, 'path leaves the upstream');
    }
    throw new ProxyError(400, 'expected /http/HOST[:PORT]/PATH or /https/HOST[:PORT]/PATH');
  }

  async function fetchFollowing(method: string, target: string, req: IncomingMessage, signal: AbortSignal): Promise<Response> {
    const base: Record<string, string> = { 'accept-encoding': 'identity', [LOOP_HEADER]: '1' };
    for (const name of FORWARD_REQUEST) {
      const v = req.headers[name];
      if (typeof v === 'string' && v.length <= MAX_URL) base[name] = v;
    }
    const authOrigin = new URL(target).origin;
    let current = target;
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const headers = { ...base };
      // Authorization belongs to the origin it was sent to; blob storage gets signed URLs.
      if (new URL(current).origin !== authOrigin) delete headers.authorization;
      const res = await fetchImpl(current, { method, headers, redirect: 'manual', signal });
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location) return res;
      await res.body?.cancel().catch(() => {});
      let next: string;
      try {
        next = new URL(location, current).href;
      } catch {
        throw new ProxyError(502, `upstream sent a bad redirect location`);
      }
      current = checkTarget(next, 502);
    }
    throw new ProxyError(502, `too many redirects (more than ${MAX_HOPS})`);
  }

  /** `Bearer realm="https://auth.example/token"` → realm `{proxy}/https/auth.example/token`. */
  function rewriteChallenge(value: string, proxyBase: string): string {
    return value.replace(/(\brealm=)(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/gi, (whole, key: string, quoted?: string, bare?: string) => {
      const realm = (quoted ?? bare ?? '').replace(/\\(.)/g, '$1');
      let url: URL;
      try {
        url = new URL(realm);
      } catch {
        return whole; // a Basic realm is a label, not a URL
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return whole;
      let rewritten: string;
      if (upstream && (url.href === upstream || url.href.startsWith(`${upstream}/`))) {
        rewritten = proxyBase + url.href.slice(upstream.length);
      } else {
        if (upstream) realmOrigins.add(url.origin);
        rewritten = `${proxyBase}/${url.protocol.slice(0, -1)}/${url.host}${url.pathname}${url.search}`;
      }
      return `${key}"${rewritten.replace(/["\\]/g, '\\$&')}"`;
    });
  }

  /** The proxy as the client reached it (the Host header), so rewritten realms come back here. */
  function publicBase(req: IncomingMessage): string {
    const host = req.headers.host;
    return host && AUTHORITY.test(host) ? `http://${host}` : listenUrl;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  listenUrl = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return {
    url: listenUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function parseUpstream(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--upstream ${JSON.stringify(text)}: not an absolute URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new Error(`--upstream ${JSON.stringify(text)}: expected http(s)://HOST[:PORT][/PATH]`);
  }
  return url.href.replace(/\/+$/, '');
}

/** Only http(s) with a plain authority; `status` is what a refusal answers. */
function checkTarget(text: string, status = 400): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProxyError(status, 'bad target URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProxyError(status, `refusing to proxy ${url.protocol} URLs`);
  if (url.username || url.password) throw new ProxyError(status, 'refusing URLs with credentials');
  return url.href;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'upstream';
  }
}

/** undici says "fetch failed" and hides the reason (ECONNREFUSED, …) in `cause`. */
function causeMessage(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const msg = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
  return String(msg).replace(/\s+/g, ' ').slice(0, 200);
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = `${text.replace(/\s+/g, ' ').slice(0, 300)}\n`;
  res.writeHead(status, { ...CORS, ...extra, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
