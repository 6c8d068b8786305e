// Retries with exponential backoff for everything that talks HTTP. Retrying lives here so
// registry and layout code only describe a request; what counts as transient is decided once.
import { ImageError, errorMessage, isAbortError } from './errors.js';
import { proxyFetch } from './proxy.js';
import type { Codecs, FetchLike, Logger, PullOptions } from './types.js';

export interface HttpContext {
  fetch: FetchLike;
  retries: number;
  retryDelayMs: number;
  logger?: Logger;
  signal?: AbortSignal;
  codecs?: Codecs;
}

export function httpContext(opts: PullOptions = {}, fallbackFetch?: FetchLike): HttpContext {
  const f = opts.fetch ?? fallbackFetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
  if (!f) throw new ImageError('NOT_SUPPORTED', 'no fetch function available: pass options.fetch');
  return {
    fetch: opts.proxy ? proxyFetch(f, opts.proxy) : f,
    retries: opts.retries ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 500,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.codecs ? { codecs: opts.codecs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_DELAY_MS = 30_000;

export function isRetriableStatus(status: number): boolean {
  return RETRY_STATUS.has(status);
}

/** Transient transport failures: anything thrown that is neither ours nor an abort. */
export function isNetworkError(e: unknown): boolean {
  return !(e instanceof ImageError) && !isAbortError(e);
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason ?? new DOMException('aborted', 'AbortError'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Seconds or an HTTP date, per RFC 9110; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Delay before retry number `attempt` (1-based): full backoff with jitter, or Retry-After. */
export function retryDelay(ctx: HttpContext, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, MAX_DELAY_MS);
  const exp = Math.min(ctx.retryDelayMs * 2 ** (attempt - 1), MAX_DELAY_MS);
  return exp / 2 + Math.random() * (exp / 2);
}

export async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // The body is being thrown away; a failure to cancel it changes nothing.
  }
}

/**
 * Runs `exchange` (one logical request, possibly several HTTP hops) until it yields a
 * non-transient response, retrying 429/5xx and network failures with backoff.
 */
export async function withRetries(ctx: HttpContext, what: string, exchange: () => Promise<Response>): Promise<Response> {
  const attempts = ctx.retries + 1;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(ctx.signal);
    let res: Response | undefined;
    let failure: unknown;
    try {
      res = await exchange();
    } catch (e) {
      if (!isNetworkError(e)) throw e;
      throwIfAborted(ctx.signal);
      failure = e;
    }
    if (res && !isRetriableStatus(res.status)) return res;
    const reason = res ? `HTTP ${res.status}` : `network error: ${errorMessage(failure)}`;
    if (attempt >= attempts) {
      if (res) {
        await discard(res);
        throw new ImageError('HTTP_ERROR', `${what}: ${reason} after ${attempts} attempts`, { status: res.status });
      }
      throw new ImageError('NETWORK', `${what}: ${reason} (gave up after ${attempts} attempts)`, { cause: failure });
    }
    const delay = retryDelay(ctx, attempt, res ? parseRetryAfter(res.headers.get('retry-after')) : undefined);
    if (res) await discard(res);
    ctx.logger?.warn?.(`${what}: ${reason}; retrying in ${Math.round(delay)} ms (attempt ${attempt + 1} of ${attempts})`);
    await sleep(delay, ctx.signal);
  }
}

/** Reads a whole (small) body, retrying the request if the body fails mid-way. */
export async function fetchBytes(ctx: HttpContext, what: string, exchange: () => Promise<Response>, maxBytes: number): Promise<{ res: Response; bytes: Uint8Array }> {
  const attempts = ctx.retries + 1;
  for (let attempt = 1; ; attempt++) {
    const res = await withRetries(ctx, what, exchange);
    if (!res.ok) return { res, bytes: new Uint8Array(0) };
    try {
      return { res, bytes: await readAll(res, maxBytes, what) };
    } catch (e) {
      if (!isNetworkError(e) || attempt >= attempts) {
        if (isNetworkError(e)) throw new ImageError('NETWORK', `${what}: body failed (gave up after ${attempts} attempts): ${errorMessage(e)}`, { cause: e });
        throw e;
      }
      const delay = retryDelay(ctx, attempt);
      ctx.logger?.warn?.(`${what}: body failed (${errorMessage(e)}); retrying in ${Math.round(delay)} ms`);
      await sleep(delay, ctx.signal);
    }
  }
}

async function readAll(res: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ImageError('SIZE_MISMATCH', `${what}: larger than the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

export function concat(chunks: Uint8Array[], total = chunks.reduce((n, c) => n + c.byteLength, 0)): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** The registry's own explanation (`{"errors":[{"message":…}]}`), when it sent one. */
export async function registryErrorMessage(res: Response): Promise<string | undefined> {
  try {
    const text = await res.text();
    // Distribution errors, or what token servers send (Docker Hub: {"details": …}).
    const j = JSON.parse(text) as { errors?: { message?: string; code?: string }[]; details?: string; error?: string; message?: string };
    const e = j.errors?.[0];
    return e?.message || e?.code || j.details || j.message || j.error || undefined;
  } catch {
    return undefined;
  }
}
