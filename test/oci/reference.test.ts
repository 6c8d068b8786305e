import { describe, expect, it } from 'vitest';
import { ImageError, formatPlatform, parsePlatform, parseReference, platformMatches } from '../../oci/index.js';

const D = 'sha256:' + 'a'.repeat(64);
const D512 = 'sha512:' + 'b'.repeat(128);

describe('parseReference (registry)', () => {
  const table: [string, Record<string, unknown>][] = [
    ['alpine', { registry: 'docker.io', apiBase: 'https://registry-1.docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest' }],
    ['alpine:3.19', { repository: 'library/alpine', tag: '3.19', canonical: 'docker.io/library/alpine:3.19' }],
    ['user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['docker.io/x/y', { registry: 'docker.io', repository: 'x/y', canonical: 'docker.io/x/y:latest' }],
    ['docker.io/alpine', { repository: 'library/alpine' }],
    ['index.docker.io/library/busybox:1', { registry: 'docker.io', repository: 'library/busybox', tag: '1' }],
    [`alpine@${D}`, { repository: 'library/alpine', tag: undefined, digest: D, canonical: `docker.io/library/alpine@${D}` }],
    [`alpine:3@${D}`, { tag: '3', digest: D, canonical: `docker.io/library/alpine:3@${D}` }],
    [`ghcr.io/o/r@${D512}`, { registry: 'ghcr.io', digest: D512 }],
    ['ghcr.io/owner/repo/sub:v1.2.3', { registry: 'ghcr.io', apiBase: 'https://ghcr.io', repository: 'owner/repo/sub', tag: 'v1.2.3' }],
    ['localhost:5000/app', { registry: 'localhost:5000', apiBase: 'http://localhost:5000', repository: 'app', tag: 'latest' }],
    ['localhost/app:dev', { registry: 'localhost', apiBase: 'http://localhost', repository: 'app', tag: 'dev' }],
    ['127.0.0.1:5000/x', { registry: '127.0.0.1:5000', apiBase: 'http://127.0.0.1:5000', repository: 'x', canonical: '127.0.0.1:5000/x:latest' }],
    ['[::1]:5000/x:y', { registry: '[::1]:5000', apiBase: 'http://[::1]:5000', tag: 'y' }],
    ['registry.example.com:8443/a/b', { registry: 'registry.example.com:8443', apiBase: 'https://registry.example.com:8443', repository: 'a/b' }],
    ['my-registry:5000/a', { registry: 'my-registry:5000', apiBase: 'https://my-registry:5000' }],
    ['a__b/c.d-e---f', { repository: 'a__b/c.d-e---f' }],
    ['x:_tag', { tag: '_tag' }],
  ];
  it.each(table)('%s', (input, expected) => {
    const r = parseReference(input);
    expect(r.kind).toBe('registry');
    for (const [k, v] of Object.entries(expected)) expect((r as Record<string, unknown>)[k], k).toBe(v);
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Alpine', /lowercase/],
    ['docker.io/Library/x', /lowercase/],
    ['alpine:', /tag/],
    ['alpine:-bad', /tag/],
    ['alpine:' + 'x'.repeat(129), /tag/],
    ['alpine@sha256:abc', /digest/],
    ['alpine@md5:' + 'a'.repeat(32), /digest/],
    ['a..b', /invalid characters/],
    ['a_', /invalid characters/],
    ['-a', /invalid characters/],
    ['a b', /whitespace/],
    ['host:99999999/x', /registry host/],
    ['ghcr.io/', /missing repository/],
  ];
  it.each(bad)('rejects %j', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('BAD_REFERENCE');
    expect((err as ImageError).message).toContain(`"${input}"`);
    expect((err as ImageError).message).toMatch(why);
  });
});

describe('parseReference (layout)', () => {
  it('http URL with #tag', () => {
    expect(parseReference('https://example.com/layouts/app/#v1')).toEqual({
      kind: 'layout',
      baseUrl: 'https://example.com/layouts/app',
      tag: 'v1',
      canonical: 'https://example.com/layouts/app#v1',
    });
  });
  it('http URL with @digest', () => {
    const r = parseReference(`http://localhost:8080/l@${D}`);
    expect(r).toMatchObject({ kind: 'layout', baseUrl: 'http://localhost:8080/l', digest: D });
    expect(r.canonical).toBe(`http://localhost:8080/l@${D}`);
  });
  it('absolute and relative paths become file:// URLs', () => {
    expect(parseReference('/tmp/my layout/')).toMatchObject({ kind: 'layout', baseUrl: 'file:///tmp/my%20layout' });
    expect(parseReference('/a/b/../c/./d#latest')).toMatchObject({ baseUrl: 'file:///a/c/d', tag: 'latest' });
    expect(parseReference('./x')).toMatchObject({ baseUrl: `file://${encodeURI(process.cwd())}/x` });
    expect(parseReference('../y').kind).toBe('layout');
    expect(parseReference('file:///srv/oci/')).toMatchObject({ baseUrl: 'file:///srv/oci' });
  });
  it('rejects bad layout references', () => {
    expect(() => parseReference('file://host/x')).toThrow(/file:\/\/\/absolute/);
    expect(() => parseReference('/x@sha256:123')).toThrow(ImageError);
    expect(() => parseReference('/x#')).toThrow(/tag/);
  });
});

describe('platforms', () => {
  it('parses and formats', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(formatPlatform(parsePlatform('linux/riscv64'))).toBe('linux/riscv64');
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    for (const s of ['linux', 'linux/amd64/v2/x', 'linux//amd64', 'linux/am d64']) expect(() => parsePlatform(s)).toThrow(ImageError);
  });
  it('matches like containerd', () => {
    const p = parsePlatform;
    expect(platformMatches(p('linux/arm64'), p('linux/arm64/v8'))).toBe(true);
    expect(platformMatches(p('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(platformMatches(p('linux/amd64'), p('linux/amd64/v3'))).toBe(true);
    expect(platformMatches(p('linux/amd64/v2'), p('linux/amd64'))).toBe(true);
    expect(platformMatches(p('linux/arm/v7'), p('linux/arm/v6'))).toBe(false);
    expect(platformMatches(p('linux/arm'), p('linux/arm/v6'))).toBe(true);
    expect(platformMatches(p('linux/riscv64'), p('linux/amd64'))).toBe(false);
    expect(platformMatches(p('linux/amd64'), p('windows/amd64'))).toBe(false);
  });
});
