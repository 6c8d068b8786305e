// An in-memory OCI distribution registry behind a FetchLike, with switches for the
// failures the client must survive: auth schemes, redirects to another origin, 429/5xx,
// connections dropped mid-body, truncated or corrupted blobs, ignored Range requests.
import { createHash } from 'node:crypto';
import type { FetchLike } from '../../oci/index.js';

export const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const utf8 = (s: string) => new TextEncoder().encode(s);

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'throw' } // fetch rejects with TypeError, like a refused connection
  | { kind: 'drop'; after: number } // body errors after `after` bytes
  | { kind: 'short'; after: number } // body ends cleanly after `after` bytes
  | { kind: 'corrupt' }; // body has one byte flipped

export interface FakeRegistryOptions {
  host?: string;
  auth?: 'none' | 'bearer' | 'basic';
  /** username → password; also accepted as identity (refresh) tokens when `refreshTokens` has them. */
  users?: Record<string, string>;
  refreshTokens?: string[];
  /** Bearer only: issue tokens without credentials. */
  anonymous?: boolean;
  /** Send blob GETs to this origin with a 307 (storage/CDN style). */
  redirectBlobsTo?: string;
  /** Answer ranged GETs with 200 and the whole body, as some servers do. */
  ignoreRange?: boolean;
  /** Simulate a browser: `redirect: 'manual'` yields an opaque redirect response. */
  browser?: boolean;
  /** Omit Docker-Content-Digest, or send a wrong one. */
  contentDigest?: 'send' | 'omit' | 'wrong';
}

interface Logged {
  url: string;
  method: string;
  headers: Headers;
  redirect?: RequestRedirect;
}

export class FakeRegistry {
  readonly host: string;
  readonly apiBase: string;
  readonly realm = 'https://auth.example.test/token';
  readonly blobs = new Map<string, Uint8Array>();
  /** repo → tag-or-digest → manifest */
  readonly manifests = new Map<string, Map<string, { bytes: Uint8Array; mediaType: string }>>();
  readonly log: Logged[] = [];
  private readonly faults: { match: RegExp; fault: Fault; times: number }[] = [];
  private tokens = new Set<string>();
  private nextToken = 1;

  constructor(readonly opts: FakeRegistryOptions = {}) {
    this.host = opts.host ?? '127.0.0.1:5000';
    this.apiBase = `http://${this.host}`;
  }

  addBlob(bytes: Uint8Array): string {
    const d = sha256(bytes);
    this.blobs.set(d, bytes);
    return d;
  }

  putManifest(repo: string, tag: string | undefined, doc: object | Uint8Array, mediaType: string): { digest: string; size: number; bytes: Uint8Array } {
    const bytes = doc instanceof Uint8Array ? doc : utf8(JSON.stringify(doc));
    const digest = sha256(bytes);
    const m = this.manifests.get(repo) ?? new Map();
    this.manifests.set(repo, m);
    m.set(digest, { bytes, mediaType });
    if (tag) m.set(tag, { bytes, mediaType });
    return { digest, size: bytes.length, bytes };
  }

  /** The next `times` requests whose URL matches get `fault`. */
  inject(match: RegExp, fault: Fault, times = 1): void {
    this.faults.push({ match, fault, times });
  }

  requests(match: RegExp): Logged[] {
    return this.log.filter((r) => match.test(r.url));
  }

  readonly fetch: FetchLike = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    const entry: Logged = { url: input, method: init.method ?? 'GET', headers, ...(init.redirect ? { redirect: init.redirect } : {}) };
    this.log.push(entry);
    if (init.signal?.aborted) throw init.signal.reason;
    const f = this.faults.find((x) => x.times > 0 && x.match.test(input));
    if (f) f.times--;
    const fault = f?.fault;
    if (fault?.kind === 'throw') throw new TypeError('fetch failed');
    if (fault?.kind === 'status') return new Response(`{"errors":[{"code":"X","message":"injected ${fault.status}"}]}`, { status: fault.status, headers: fault.headers ?? {} });
    let res = await this.route(input, init, headers);
    if (this.opts.browser && init.redirect === 'manual' && res.status >= 300 && res.status < 400) {
      const opaque = new Response(null, { status: 200 });
      Object.defineProperty(opaque, 'type', { value: 'opaqueredirect' });
      return opaque;
    }
    if (this.opts.browser && init.redirect === 'follow' && res.status === 307) {
      // Browsers drop Authorization when a redirect crosses origins.
      const next = res.headers.get('location')!;
      const h = new Headers(headers);
      if (new URL(next).origin !== new URL(input).origin) h.delete('authorization');
      return this.fetch(next, { ...init, headers: h });
    }
    if (fault && res.body && (fault.kind === 'drop' || fault.kind === 'short' || fault.kind === 'corrupt')) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      res = new Response(faultyBody(bytes, fault), { status: res.status, headers: res.headers });
    }
    return res;
  };

  private async route(url: string, init: RequestInit, headers: Headers): Promise<Response> {
    const u = new URL(url);
    if (url.startsWith(this.realm)) return this.tokenEndpoint(u, init, headers);
    if (this.opts.redirectBlobsTo && u.origin === this.opts.redirectBlobsTo) {
      const blob = this.blobs.get(u.pathname.split('/').pop()!);
      return blob ? this.serve(blob, headers) : new Response('no such object', { status: 404 });
    }
    if (u.host !== this.host) throw new TypeError(`fetch failed: getaddrinfo ENOTFOUND ${u.host}`);
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(u.pathname);
    if (!m) return new Response('{"errors":[{"code":"UNSUPPORTED"}]}', { status: 404 });
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    const denied = this.checkAuth(headers, repo);
    if (denied) return denied;
    if (kind === 'manifests') {
      const man = this.manifests.get(repo)?.get(ref);
      if (!man) return new Response(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, { status: 404 });
      const h: Record<string, string> = { 'content-type': man.mediaType };
      const cd = this.opts.contentDigest ?? 'send';
      if (cd !== 'omit') h['docker-content-digest'] = cd === 'wrong' ? sha256('something else') : sha256(man.bytes);
      return new Response(man.bytes.slice() as Uint8Array<ArrayBuffer>, { status: 200, headers: h });
    }
    const blob = this.blobs.get(ref);
    if (!blob) return new Response(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`, { status: 404 });
    if (this.opts.redirectBlobsTo) return new Response(null, { status: 307, headers: { location: `${this.opts.redirectBlobsTo}/store/${ref}?sig=abc` } });
    return this.serve(blob, headers);
  }

  private serve(blob: Uint8Array, headers: Headers): Response {
    const range = headers.get('range');
    const m = range && !this.opts.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (!m) return new Response(blob.slice(), { status: 200, headers: { 'content-length': String(blob.length) } });
    const start = Number(m[1]);
    const end = m[2] ? Math.min(Number(m[2]) + 1, blob.length) : blob.length;
    if (start >= blob.length) return new Response(null, { status: 416 });
    return new Response(blob.slice(start, end), { status: 206, headers: { 'content-range': `bytes ${start}-${end - 1}/${blob.length}` } });
  }

  private checkAuth(headers: Headers, repo: string): Response | undefined {
    const auth = headers.get('authorization') ?? '';
    if (this.opts.auth === 'bearer') {
      if (auth.startsWith('Bearer ') && this.tokens.has(`${auth.slice(7)}|${repo}`)) return undefined;
      return new Response('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', {
        status: 401,
        headers: { 'www-authenticate': `Bearer realm="${this.realm}",service="fake.registry",scope="repository:${repo}:pull"` },
      });
    }
    if (this.opts.auth === 'basic') {
      if (auth.startsWith('Basic ') && this.validBasic(auth)) return undefined;
      return new Response('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', {
        status: 401,
        headers: { 'www-authenticate': 'Basic realm="fake registry"' },
      });
    }
    return undefined;
  }

  private validBasic(header: string): boolean {
    const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
    return this.opts.users?.[user!] !== undefined && this.opts.users[user!] === rest.join(':');
  }

  private async tokenEndpoint(u: URL, init: RequestInit, headers: Headers): Promise<Response> {
    let scope: string | null;
    let ok = false;
    if (init.method === 'POST') {
      const form = new URLSearchParams(String(init.body));
      scope = form.get('scope');
      ok = form.get('grant_type') === 'refresh_token' && (this.opts.refreshTokens ?? []).includes(form.get('refresh_token') ?? '') && form.get('client_id') === 'imagemounter';
    } else {
      scope = u.searchParams.get('scope');
      const auth = headers.get('authorization');
      ok = auth ? this.validBasic(auth) : !!this.opts.anonymous;
    }
    if (!ok || u.searchParams.get('service') === 'wrong') return new Response('{"details":"incorrect username or password"}', { status: 401 });
    const repo = /^repository:(.+):pull$/.exec(scope ?? '')?.[1];
    const token = `tok${this.nextToken++}`;
    if (repo) this.tokens.add(`${token}|${repo}`);
    return Response.json(init.method === 'POST' ? { access_token: token } : { token, expires_in: 300 });
  }

  /** Forget issued tokens, as if they expired. */
  expireTokens(): void {
    this.tokens.clear();
  }
}

function faultyBody(bytes: Uint8Array, fault: Fault): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    // Fail on a later pull: erroring a stream discards chunks still queued in it.
    pull(c) {
      if (fault.kind === 'corrupt') {
        const copy = bytes.slice();
        copy[copy.length >> 1]! ^= 0xff;
        c.enqueue(copy);
        c.close();
        return;
      }
      const after = (fault as { after: number }).after;
      if (!sent && after > 0) {
        sent = true;
        c.enqueue(bytes.slice(0, after));
        return;
      }
      if (fault.kind === 'drop') c.error(new TypeError('terminated: other side closed'));
      else c.close();
    },
  });
}
