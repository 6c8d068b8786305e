import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeCpio } from '../../src/vm/index.js';

/** A newc reader: what the kernel does with the archive, minus creating files. */
function readCpio(bytes: Uint8Array): { name: string; mode: number; data: Uint8Array; rdev: [number, number] }[] {
  const text = new TextDecoder('latin1');
  const out = [];
  let at = 0;
  const field = (i: number) => parseInt(text.decode(bytes.subarray(at + 6 + i * 8, at + 14 + i * 8)), 16);
  for (;;) {
    expect(text.decode(bytes.subarray(at, at + 6))).toBe('070701');
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const rdev: [number, number] = [field(9), field(10)];
    const name = text.decode(bytes.subarray(at + 110, at + 110 + nameSize - 1));
    at += 110 + nameSize;
    at += (4 - (at % 4)) % 4;
    const data = bytes.subarray(at, at + size);
    at += size;
    at += (4 - (at % 4)) % 4;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, data, rdev });
  }
  expect(at).toBe(bytes.length);
  return out;
}

describe('writeCpio', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  const entries = [
    { path: 'bin', type: 'dir' as const },
    { path: 'bin/busybox', type: 'file' as const, data: new Uint8Array([1, 2, 3, 4, 5]), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink' as const, target: 'busybox' },
    { path: 'init', type: 'file' as const, data: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { path: 'dev', type: 'dir' as const },
    { path: 'dev/console', type: 'char' as const, major: 5, minor: 1 },
    { path: 'empty', type: 'file' as const, data: '' },
  ];

  it('writes newc records with 4-byte padding, parents before children, and a trailer', () => {
    const got = readCpio(writeCpio(entries));
    expect(got.map((e) => e.name)).toEqual(['bin', 'bin/busybox', 'bin/sh', 'init', 'dev', 'dev/console', 'empty']);
    expect(got[1]!.mode).toBe(0o100755);
    expect([...got[1]!.data]).toEqual([1, 2, 3, 4, 5]);
    expect(got[2]!.mode).toBe(0o120777);
    expect(new TextDecoder().decode(got[2]!.data)).toBe('busybox');
    expect(got[5]!.mode).toBe(0o020600);
    expect(got[5]!.rdev).toEqual([5, 1]);
    expect(got[6]!.data.length).toBe(0);
  });

  it('is deterministic', () => {
    expect(writeCpio(entries)).toEqual(writeCpio(entries));
  });

  it.skipIf(!existsSync('/usr/bin/cpio'))('is read back by GNU cpio', () => {
    dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    const archive = join(dir, 'a.cpio');
    writeFileSync(archive, writeCpio(entries.filter((e) => e.type !== 'char')));
    execFileSync('sh', ['-c', `cd '${dir}' && mkdir x && cd x && cpio -i --quiet < ../a.cpio`]);
    expect(readFileSync(join(dir, 'x/init'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(lstatSync(join(dir, 'x/bin/busybox')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, 'x/bin/sh'))).toBe('busybox');
  });
});
