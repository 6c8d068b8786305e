// The guest's JSON reader runs under the host's busybox (the same Debian build as the
// guest's): what /init evals must give back every field exactly as JSON.parse does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSpec } from '../../src/fs/runtime-spec.js';
import { JSON_AWK } from '../../src/vm/index.js';

const BUSYBOX = '/bin/busybox';
const dir = mkdtempSync(join(tmpdir(), 'json-awk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'json.awk'), JSON_AWK);

/** Runs the reader and evals its output in busybox sh; returns each variable (words split back into arrays). */
function read(doc: string, spec: Record<string, string>): Record<string, string | string[]> {
  const file = join(dir, 'doc.json');
  writeFileSync(file, doc);
  const specArg = Object.entries(spec).map(([k, v]) => `${k}=${v}`).join(' ');
  // Each variable: its name, then NUL-separated values; words kinds are expanded with eval set --.
  const script = Object.entries(spec)
    .map(([k, v]) => (v.endsWith(':w') ? `eval "set -- $${k}"; printf '%s\\0' "${k}" "$#"; for x; do printf '%s\\0' "$x"; done` : `printf '%s\\0' "${k}" 1 "$${k}"`))
    .join('\n');
  const out = execFileSync(BUSYBOX, ['sh', '-c', `vars=$(${BUSYBOX} awk -f "$1" -v spec="$2" "$3") || exit 9\neval "$vars"\n${script}`, 'sh', join(dir, 'json.awk'), specArg, file]);
  const parts = out.toString('utf8').split('\0');
  const result: Record<string, string | string[]> = {};
  let i = 0;
  while (i < parts.length - 1) {
    const name = parts[i++]!;
    const n = Number(parts[i++]);
    const values = parts.slice(i, i + n);
    i += n;
    result[name] = spec[name]!.endsWith(':w') ? values : values[0]!;
  }
  return result;
}

describe.skipIf(!existsSync(BUSYBOX))('json.awk (busybox awk)', () => {
  it("reads the fields /init needs from the generator's config.json", () => {
    const spec = buildSpec(
      { config: { Env: ['FOO=bar baz', "QUOTE=it's \"x\""], Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo $FOO'], WorkingDir: '/home/app', User: 'app' } } as never,
      'app:x:1000:1001::/home/app:/bin/sh\n',
      'staff:x:20:app\nwheel:x:10:app\n',
    );
    // Compact, and as the mounter serves it (two-space indent).
    for (const doc of [JSON.stringify(spec), JSON.stringify(spec, null, 2) + '\n']) {
      const got = read(doc, {
        args: 'process.args:w',
        env: 'process.env:w',
        cwd: 'process.cwd:s',
        uid: 'process.user.uid:s',
        gid: 'process.user.gid:s',
        gids: 'process.user.additionalGids:n',
        root: 'root.path:s',
        terminal: 'process.terminal:s',
        hostname: 'hostname:s',
      });
      expect(got).toEqual({
        args: spec.process.args,
        env: spec.process.env,
        cwd: '/home/app',
        uid: '1000',
        gid: '1001',
        gids: spec.process.user.additionalGids!.join(','),
        root: '/run/rootfs',
        terminal: 'true',
        hostname: '',
      });
    }
  });

  it('decodes every JSON escape and keeps quotes, newlines and non-ASCII text intact', () => {
    const args = [
      "it's",
      'say "hi"',
      'back\\slash / slash',
      'line1\nline2\ttab\rcr\bbs\ffeed',
      'ctrl \u0001\u001f',
      'é ü 中文 😀',
      '$HOME `id` $(id) * ?',
      '',
      ' leading and trailing ',
      "'''",
      'a],[b',
      'x: y, z}{',
    ];
    const doc = JSON.stringify({ a: { args }, other: [{ args: ['not this'] }] });
    expect(read(doc, { args: 'a.args:w' }).args).toEqual(args);
    // \u escapes of non-ASCII text, surrogate pairs included (the host's settings line uses them).
    const escaped = JSON.stringify({ args }).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(read(escaped, { args: 'args:w' }).args).toEqual(args);
  });

  it('tells absent, empty and present values apart by type', () => {
    const doc = '{ "args" : [ ] , "n" : 5, "t": true, "o": {"k": null}, "s": "x" }\n';
    expect(read(doc, { args: 'args:w', argt: 'args:t', mt: 'missing:t', ms: 'missing:s', n: 'n:s', t: 't:s', ot: 'o:t', s: 's:s', st: 's:t' })).toEqual({
      args: [],
      argt: 'a',
      mt: '',
      ms: '',
      n: '5',
      t: 'true',
      ot: 'o',
      s: 'x',
      st: 's',
    });
  });

  it('handles nested arrays and objects, and pretty-printed input', () => {
    const doc = JSON.stringify({ x: [[1, 2], { y: ['a', 'b'] }, []], z: { w: ['q'] } }, null, 2);
    expect(read(doc, { y: 'x.1.y:w', w: 'z.w:w', first: 'x.0.1:s', xt: 'x.2:t' })).toEqual({ y: ['a', 'b'], w: ['q'], first: '2', xt: 'a' });
    // Arrays of objects around arrays of strings (the spec's mounts), and values after them.
    const mounts = JSON.stringify({ m: [{ d: '/proc', o: ['a', 'b'] }, { d: '/dev', o: [] }], after: 'z' }, null, 1);
    expect(read(mounts, { d1: 'm.1.d:s', o0: 'm.0.o:w', o1: 'm.1.o:w', o1t: 'm.1.o:t', after: 'after:s' })).toEqual({ d1: '/dev', o0: ['a', 'b'], o1: [], o1t: 'a', after: 'z' });
  });

  it('fails on a document that is not JSON', () => {
    expect(() => read('', { a: 'a:s' })).toThrow();
    expect(() => read('{"a": [1, 2', { a: 'a:s' })).toThrow();
  });
});
