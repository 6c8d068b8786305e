// Image reference parsing: `host[:port]/repo[:tag][@digest]` with Docker Hub defaults,
// plus OCI image layouts named by URL or local path (`#tag` / `@digest` pick a manifest).
import { ImageError } from './errors.js';
import type { ImageReference } from './types.js';

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'https://registry-1.docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

// distribution/reference grammar.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const HOST_RE = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const LOOPBACK_RE = /^(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?$/i;

function bad(input: string, why: string): ImageError {
  return new ImageError('BAD_REFERENCE', `invalid image reference "${input}": ${why}`);
}

export function parseReference(ref: string): ImageReference {
  if (/^https?:\/\//i.test(ref) || /^file:\/\//i.test(ref) || /^(?:\/|\.\/|\.\.\/)/.test(ref) || ref === '.' || ref === '..') {
    return parseLayout(ref);
  }
  return parseRegistry(ref);
}

function parseRegistry(input: string): ImageReference {
  if (input === '' || /\s/.test(input)) throw bad(input, 'empty or contains whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw bad(input, `digest "${digest}" is not sha256:<64 hex> or sha512:<128 hex>`);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      if (!HOST_RE.test(first)) throw bad(input, `"${first}" is not a valid registry host`);
      registry = HUB_ALIASES.has(first.toLowerCase()) ? DOCKER_HUB : first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(input, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  let repository = rest;
  if (repository === '') throw bad(input, 'missing repository name');
  if (repository !== repository.toLowerCase()) throw bad(input, `repository "${repository}" must be lowercase`);
  if (!REPOSITORY_RE.test(repository)) throw bad(input, `repository "${repository}" has invalid characters or separators`);
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (registry.length + 1 + repository.length > 255) throw bad(input, 'name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const apiBase = registry === DOCKER_HUB ? DOCKER_HUB_API : `${LOOPBACK_RE.test(registry) ? 'http' : 'https'}://${registry}`;
  const canonical = `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { kind: 'registry', registry, apiBase, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), canonical };
}

/** `…@sha256:…` and `…#tag` suffixes select a manifest inside the layout's index.json. */
function parseLayout(input: string): ImageReference {
  let rest = input;
  let digest: string | undefined;
  const m = /@((?:sha256|sha512):[^@/#]*)$/.exec(rest);
  if (m) {
    digest = m[1]!;
    if (!DIGEST_RE.test(digest)) throw bad(input, `digest "${digest}" is not sha256:<64 hex> or sha512:<128 hex>`);
    rest = rest.slice(0, m.index);
  }
  let tag: string | undefined;
  const hash = rest.lastIndexOf('#');
  if (hash >= 0) {
    tag = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    // ref.name annotations may be full references ("docker.io/x/y:1"), so only forbid the unusable.
    if (tag === '' || /\s/.test(tag)) throw bad(input, 'empty or blank tag after "#"');
  }
  let baseUrl: string;
  if (/^(?:https?|file):\/\//i.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch (e) {
      throw new ImageError('BAD_REFERENCE', `invalid image reference "${input}": not a valid URL`, { cause: e });
    }
    if (url.protocol === 'file:' && url.host !== '' && url.host !== 'localhost') throw bad(input, 'file URLs must be file:///absolute/path');
    url.search = '';
    url.hash = '';
    baseUrl = url.href;
  } else {
    baseUrl = `file://${encodePath(absolutePath(input, rest))}`;
  }
  baseUrl = baseUrl.replace(/\/+$/, '');
  const canonical = `${baseUrl}${tag ? `#${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { kind: 'layout', baseUrl, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), canonical };
}

function absolutePath(input: string, path: string): string {
  let full = path;
  if (!path.startsWith('/')) {
    // No node:path here (oci/ runs in browsers); a relative path only means something in Node.
    const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
    if (!cwd) throw bad(input, 'relative paths need a current directory (Node only)');
    full = `${cwd}/${path}`;
  }
  const out: string[] = [];
  for (const seg of full.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

function encodePath(path: string): string {
  return encodeURI(path).replace(/[?#]/g, (c) => encodeURIComponent(c));
}
