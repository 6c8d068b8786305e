// Turns a failed pull into plain words: what happened and what to do about it.
import type { ErrorInfo } from './protocol.js';

export interface Explanation {
  title: string;
  lines: string[];
}

export const CORS_HEADERS = [
  'Access-Control-Allow-Origin (e.g. *)',
  'Access-Control-Allow-Headers (Authorization, Range, Accept)',
  'Access-Control-Expose-Headers (Content-Range, Docker-Content-Digest, WWW-Authenticate)',
];

function isFetchFailure(e: ErrorInfo): boolean {
  const text = `${e.cause ?? ''} ${e.message}`;
  return /Failed to fetch|NetworkError|Load failed|network error/i.test(text);
}

function unauthorized(where: string, e: ErrorInfo, preflightRefused = false): Explanation {
  const preflight = preflightRefused
    ? [
        `${where} also answers the browser's CORS preflight (OPTIONS) with 401, so the browser cannot send credentials to it at all. ` +
          'Pull through `imagemounter cors-proxy` (give its URL as the proxy, ?proxy=URL): it answers preflights itself and passes the credentials on.',
      ]
    : [];
  return {
    title: e.withCredentials ? `${where} refused the credentials given (401 Unauthorized).` : `${where} asks for credentials (401 Unauthorized).`,
    lines: [
      e.withCredentials
        ? 'Check the username and password (or identity token) under "Registry credentials" at the top, then press Use.'
        : 'Give a username and password (or an identity token) under "Registry credentials" at the top and press Use; they stay in this tab.',
      'The command line takes them too: `imagemounter pull IMAGE --username USER --password PASS` (or IMAGEMOUNTER_USERNAME / IMAGEMOUNTER_PASSWORD, or ~/.docker/config.json).',
      ...preflight,
      `Details: ${e.message}`,
    ],
  };
}

export function explainError(e: ErrorInfo): Explanation {
  const where = e.target ? new URL(e.target).host : e.ref;
  const corsFailure = e.code === 'NETWORK' && e.crossOrigin && isFetchFailure(e) && !e.proxied;
  // The real request was refused at its preflight, but a plain GET got a 401.
  if (corsFailure && e.probeStatus === 401) return unauthorized(where, e, true);
  if (corsFailure && e.probeStatus !== undefined) {
    return {
      title: `${where} answers, but refused the browser's CORS preflight (OPTIONS) for the pull's requests.`,
      lines: [
        'Preflights must get a 2xx answer, without credentials, carrying:',
        ...CORS_HEADERS.map((h) => `  • ${h}`),
        'Or pull through `imagemounter cors-proxy` and add `&proxy=URL` to this page\'s address.',
        `Details: ${e.message}`,
      ],
    };
  }
  if (corsFailure) {
    return {
      title: `The browser may not read ${where}: the server sends no CORS headers (or it cannot be reached).`,
      lines: [
        `A page on ${location.origin} can only read a registry on another origin when the registry allows it. Its responses must carry:`,
        ...CORS_HEADERS.map((h) => `  • ${h}`),
        'Or run a proxy that adds them: `imagemounter cors-proxy --listen tcp:127.0.0.1:5080`, then add `&proxy=http://127.0.0.1:5080` to this page\'s address.',
        `Details: ${e.message}`,
      ],
    };
  }
  switch (e.code) {
    case 'UNAUTHORIZED':
      return unauthorized(where, e);
    case 'NOT_FOUND':
      return {
        title: `Not found (404): ${e.ref}`,
        lines: ['Check the repository name and the tag or digest; the server has no such image.', `Details: ${e.message}`],
      };
    case 'NO_MATCHING_PLATFORM':
      if (e.embeddedVm) {
        return {
          title: 'The image has no linux/386 variant, the only kind the embedded VM (v86, a 32-bit PC) runs.',
          lines: [
            e.message,
            'For amd64, arm64 or riscv64 images, run a container2wasm VM made for that architecture: add `&vm=URL` of its out.wasm.gzip (built with `c2w --external-bundle`) to this page\'s address.',
            'Or only mount and browse the image: `&vm=none&platform=OS/ARCH`.',
          ],
        };
      }
      return {
        title: `The image has no variant for the requested platform.`,
        lines: [e.message, 'Pick one of them with `&platform=OS/ARCH[/VARIANT]` in this page\'s address.'],
      };
    case 'BAD_REFERENCE':
      return { title: `Not an image reference: ${e.ref}`, lines: [e.message] };
    case 'NETWORK':
      return { title: `Could not reach ${where}.`, lines: [e.message] };
    default:
      return { title: `Pulling ${e.ref} failed${e.code ? ` (${e.code})` : ''}.`, lines: [e.message] };
  }
}
