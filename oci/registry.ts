// The OCI distribution API client: manifests and blobs of one repository, with auth,
// manually followed redirects (Authorization never leaves the registry's origin) and retries.
import { Authenticator, accessDenied } from './auth.js';
import { ImageError } from './errors.js';
import { discard, fetchBytes, registryErrorMessage, withRetries, type HttpContext } from './http.js';
import { MANIFEST_ACCEPT, bareMediaType } from './media-types.js';
import { MAX_MANIFEST_BYTES, rangeHeader, type ByteRange, type FetchedManifest, type ImageSource } from './source.js';
import type { CredentialLookup, Descriptor, ImageReference } from './types.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 10;

type RegistryRef = Extract<ImageReference, { kind: 'registry' }>;

export class RegistryClient implements ImageSource {
  readonly label: string;
  private readonly origin: string;
  private readonly auth: Authenticator;

  constructor(
    private readonly ref: RegistryRef,
    credentials?: CredentialLookup,
  ) {
    this.label = `${ref.registry}/${ref.repository}`;
    this.origin = new URL(ref.apiBase).origin;
    this.auth = new Authenticator(ref.registry, ref.repository, credentials);
  }

  private url(path: string): string {
    return `${this.ref.apiBase}/v2/${this.ref.repository}/${path}`;
  }

  async getManifest(ctx: HttpContext, reference: string): Promise<FetchedManifest> {
    const url = this.url(`manifests/${reference}`);
    const what = `manifest ${this.label}${reference.includes(':') ? '@' : ':'}${reference}`;
    const { res, bytes } = await fetchBytes(ctx, what, () => this.exchange(ctx, url, { accept: MANIFEST_ACCEPT }), MAX_MANIFEST_BYTES);
    await this.check(res, what);
    const headerDigest = res.headers.get('docker-content-digest') ?? undefined;
    return { bytes, contentType: bareMediaType(res.headers.get('content-type')), url, ...(headerDigest ? { headerDigest } : {}) };
  }

  async getBlob(ctx: HttpContext, desc: Descriptor, range?: ByteRange): Promise<Response> {
    const what = `blob ${desc.digest} of ${this.label}`;
    const res = await withRetries(ctx, what, () => this.exchange(ctx, this.url(`blobs/${desc.digest}`), rangeHeader(range)));
    await this.check(res, what);
    return res;
  }

  /** Turns a final non-2xx response into the error a user can act on. */
  private async check(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    const detail = await registryErrorMessage(res);
    const says = detail ? ` (registry says: ${detail})` : '';
    if (res.status === 401 || res.status === 403) {
      throw accessDenied(this.ref.registry, this.ref.repository, res.status, await this.auth.hasCredentials(), detail);
    }
    if (res.status === 404) throw new ImageError('NOT_FOUND', `${what}: not found (404)${says}`, { status: 404 });
    throw new ImageError('HTTP_ERROR', `${what}: HTTP ${res.status}${says}`, { status: res.status });
  }

  /** One logical request: answers auth challenges and follows redirects. */
  private async exchange(ctx: HttpContext, url: string, headers: Record<string, string>): Promise<Response> {
    let fetchedToken = false;
    for (let round = 0; ; round++) {
      const authorization = await this.auth.header();
      const res = await this.follow(ctx, url, headers, authorization);
      if (res.status !== 401 || round >= 3) return res;
      const retry = await this.auth.onChallenge(ctx, res, authorization, !fetchedToken);
      if (!retry) return res;
      await discard(res);
      fetchedToken = true;
    }
  }

  private async follow(ctx: HttpContext, url: string, headers: Record<string, string>, authorization: string | undefined): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const sameOrigin = new URL(current).origin === this.origin;
      const h = { ...headers, ...(authorization && sameOrigin ? { authorization } : {}) };
      const res = await ctx.fetch(current, { headers: h, redirect: 'manual', ...(ctx.signal ? { signal: ctx.signal } : {}) });
      if (res.type === 'opaqueredirect') return this.followInBrowser(ctx, current, headers, authorization);
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location) return res;
      await discard(res);
      current = new URL(location, current).href;
    }
    throw new ImageError('HTTP_ERROR', `too many redirects (more than ${MAX_HOPS}) fetching ${url}`);
  }

  /**
   * Browsers hide manual redirects (opaque response), so let the browser follow. First
   * without credentials; only if the registry itself insists, with them — the Fetch
   * standard drops Authorization when a redirect crosses origins.
   */
  private async followInBrowser(ctx: HttpContext, url: string, headers: Record<string, string>, authorization: string | undefined): Promise<Response> {
    const signal = ctx.signal ? { signal: ctx.signal } : {};
    const res = await ctx.fetch(url, { headers, redirect: 'follow', ...signal });
    if (res.status !== 401 || !authorization) return res;
    await discard(res);
    return ctx.fetch(url, { headers: { ...headers, authorization }, redirect: 'follow', ...signal });
  }
}
