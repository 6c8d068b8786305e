// Registry authentication: WWW-Authenticate parsing, bearer token exchange (anonymous,
// Basic credentials, or an identity/refresh token) and Basic auth. Tokens are cached per
// scope for the life of one client, so every layer of an image reuses one token.
import { ImageError, errorMessage } from './errors.js';
import { withRetries, registryErrorMessage, type HttpContext } from './http.js';
import type { CredentialLookup, Credentials } from './types.js';

export interface Challenge {
  scheme: string; // lowercased: 'bearer', 'basic', …
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Parses one or more challenges; quoted values may contain commas and escaped quotes. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && TOKEN.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skip();
    const name = token();
    if (!name) {
      i++; // stray character: ignore rather than fail the whole pull
      continue;
    }
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    if (header[i] === '=' && out.length > 0) {
      i++;
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(start, i);
      }
      out[out.length - 1]!.params[name.toLowerCase()] = value;
    } else {
      out.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return out;
}

function base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function basicHeader(c: Credentials): string {
  return `Basic ${base64(`${c.username ?? ''}:${c.password ?? ''}`)}`;
}

type Mode = { kind: 'bearer'; token: Promise<string> } | { kind: 'basic'; header: string };

export class Authenticator {
  private readonly modes = new Map<string, Mode>();
  private credentialsPromise?: Promise<Credentials | undefined>;

  constructor(
    private readonly registry: string,
    private readonly repository: string,
    private readonly lookup: CredentialLookup | undefined,
  ) {}

  credentials(): Promise<Credentials | undefined> {
    this.credentialsPromise ??= Promise.resolve(this.lookup?.(this.registry)).catch((e: unknown) => {
      throw new ImageError('UNAUTHORIZED', `credential lookup for ${this.registry} failed: ${errorMessage(e)}`, { cause: e });
    });
    return this.credentialsPromise;
  }

  get defaultScope(): string {
    return `repository:${this.repository}:pull`;
  }

  /** The Authorization header to send proactively, once a challenge has been answered. */
  async header(scope = this.defaultScope): Promise<string | undefined> {
    const mode = this.modes.get(scope);
    if (!mode) return undefined;
    if (mode.kind === 'basic') return mode.header;
    try {
      return `Bearer ${await mode.token}`;
    } catch {
      return undefined; // a failed token fetch was already reported to whoever triggered it
    }
  }

  /**
   * Answers a 401: returns true if there is a (new) Authorization header to retry with.
   * `previous` is the header that was refused; `mayFetch` is false once this request has
   * already obtained a fresh token, so a refused fresh token means "denied", not "expired".
   */
  async onChallenge(ctx: HttpContext, res: Response, previous: string | undefined, mayFetch: boolean, scope = this.defaultScope): Promise<boolean> {
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const creds = await this.credentials();
    if (bearer) {
      const current = await this.header(scope);
      if (current !== undefined && current !== previous) return true; // a parallel request refreshed it
      if (!mayFetch) return false;
      const token = this.fetchToken(ctx, bearer.params, bearer.params.scope || scope, creds);
      this.modes.set(scope, { kind: 'bearer', token });
      await token; // bad credentials surface here, to the request that needed the token
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && creds?.username !== undefined && !previous?.startsWith('Basic ')) {
      this.modes.set(scope, { kind: 'basic', header: basicHeader(creds) });
      return true;
    }
    return false;
  }

  private async fetchToken(ctx: HttpContext, params: Record<string, string>, scope: string, creds: Credentials | undefined): Promise<string> {
    let url: URL;
    try {
      url = new URL(params.realm!);
    } catch (e) {
      throw new ImageError('UNAUTHORIZED', `registry ${this.registry} sent an invalid token realm "${params.realm}"`, { cause: e });
    }
    const what = `token request to ${url.origin}${url.pathname}`;
    let res: Response;
    if (creds?.token) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: 'imagemounter', scope });
      if (params.service) form.set('service', params.service);
      res = await withRetries(ctx, what, () =>
        ctx.fetch(url.href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), ...(ctx.signal ? { signal: ctx.signal } : {}) }),
      );
    } else {
      if (params.service) url.searchParams.set('service', params.service);
      url.searchParams.set('scope', scope);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) headers.authorization = basicHeader(creds);
      res = await withRetries(ctx, what, () => ctx.fetch(url.href, { headers, ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    }
    if (!res.ok) {
      throw accessDenied(this.registry, this.repository, res.status, creds !== undefined, await registryErrorMessage(res));
    }
    let body: { token?: string; access_token?: string };
    try {
      body = (await res.json()) as typeof body;
    } catch (e) {
      throw new ImageError('UNAUTHORIZED', `${what}: response is not JSON`, { cause: e });
    }
    const token = body.token || body.access_token;
    if (!token) throw new ImageError('UNAUTHORIZED', `${what}: response has no token`);
    return token;
  }

  async hasCredentials(): Promise<boolean> {
    const c = await this.credentials();
    return !!c && (c.username !== undefined || c.token !== undefined);
  }
}

/** The one message for "the registry will not let us pull", whichever request found out. */
export function accessDenied(registry: string, repository: string, status: number, hadCredentials: boolean, detail?: string): ImageError {
  const reason = hadCredentials ? 'the credentials were rejected or lack pull access' : 'credentials required';
  return new ImageError(
    'UNAUTHORIZED',
    `registry ${registry} refused access to repo "${repository}" (${status}): ${reason}${detail ? ` (registry says: ${detail})` : ''} — pass --username/--password or docker login`,
    { status },
  );
}
