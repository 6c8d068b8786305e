// Pulling through a CORS proxy (`imagemounter cors-proxy`): a fetch wrapper that sends
// every absolute http(s) URL to `{base}/{scheme}/{host[:port]}/{path}?{query}`. Only the
// transport changes: the registry client keeps building, scoping and caching by the
// original URLs, and the proxy follows redirects itself, so the client sees none.
import { ImageError } from './errors.js';
import type { FetchLike } from './types.js';

/** `base` without a trailing slash; rejects anything but an absolute http(s) URL without query or fragment. */
export function normaliseProxyBase(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ImageError('NOT_SUPPORTED', `proxy ${JSON.stringify(base)}: not an absolute URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new ImageError('NOT_SUPPORTED', `proxy ${JSON.stringify(base)}: expected http(s)://HOST[:PORT][/PATH]`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * The proxied form of `url`, or `url` itself when it is not http(s) (file:, data:, …) or
 * already goes through `base`.
 */
export function proxyUrl(base: string, url: string): string {
  const b = normaliseProxyBase(base);
  if (url === b || url.startsWith(`${b}/`) || url.startsWith(`${b}?`)) return url;
  const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
  if (!m) return url;
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  let rest = m[3]!.replace(/#.*$/, ''); // fragments never reach a server
  if (!rest.startsWith('/')) rest = `/${rest}`; // `https://host?x` → `/?x`
  // Lower-cased like URL would, but without URL re-encoding the path.
  return `${b}/${scheme}/${authority.toLowerCase()}${rest}`;
}

/** A fetch that routes absolute http(s) requests through the cors-proxy at `base`. */
export function proxyFetch(fetch: FetchLike, base: string): FetchLike {
  const b = normaliseProxyBase(base);
  return (input, init) => fetch(proxyUrl(b, input), init);
}
