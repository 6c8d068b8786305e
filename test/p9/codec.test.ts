import { describe, expect, it } from 'vitest';
import {
  Errno,
  MESSAGE_TYPES,
  decodeDirents,
  decodeMessage,
  encodeMessage,
  typeNumber,
  WireError,
  type Message,
  type MessageName,
} from '../../p9/index.js';
import { DirentPacker } from '../../p9/dirent.js';

const qid = { type: 0x80, version: 7, path: 0x0123456789abcdefn };

/** A sample with every field set to something non-trivial, per message type. */
function sample(type: MessageName, tag = 0x1234): Message {
  const v: Record<string, unknown> = {
    fid: 0xdeadbeef, newfid: 2, dfid: 3, afid: 0xffffffff, olddirfid: 4, newdirfid: 5, dirfid: 6,
    flags: 0o100002, mode: 0o100644, gid: 1000, uid: 1001, valid: 0x7ff, msize: 1_048_576, version: '9P2000.L',
    name: 'fïlé', symtgt: '../target', major: 8, minor: 1, target: '/bin/busybox', requestMask: 0x3fffn,
    size: 1n << 40n, attrSize: 12n, offset: (1n << 63n) + 5n, count: 4096, datasync: 1, lockType: 1, start: 10n,
    length: 0n, procId: 42, clientId: 'host', status: 0, uname: 'root', aname: '', nUname: 0, ename: 'boom', errno: 5,
    oldtag: 7, wnames: ['a', 'bé', ''], qids: [qid, { type: 2, version: 0, path: 1n }], qid, aqid: qid, iounit: 1_048_552,
    perm: 0o755, extension: 'ext', data: new Uint8Array([1, 2, 3, 0, 255]), stat: new Uint8Array([9, 8, 7]), ecode: 95,
    fsType: 0x01021997, bsize: 4096, blocks: 99n, bfree: 1n, bavail: 2n, files: 3n, ffree: 4n, fsid: 5n, namelen: 255,
    oldname: 'old', newname: 'new', nlink: 2n, rdev: 0x803n, blksize: 4096n, gen: 0n, dataVersion: 0n,
  };
  for (const t of ['atime', 'mtime', 'ctime', 'btime']) {
    v[`${t}Sec`] = 1_700_000_000n;
    v[`${t}Nsec`] = 123_456_789n;
  }
  // Some names mean different widths in different messages.
  if (type === 'Rgetattr' || type === 'Tsetattr') v.valid = type === 'Rgetattr' ? 0x7ffn : 0x7f;
  if (type === 'Topen' || type === 'Tcreate') v.mode = 1;
  if (type === 'Rxattrwalk' || type === 'Tsetattr' || type === 'Rgetattr') v.size = 77n;
  // Only the fields the encoder reads matter; decode must give them all back.
  const probe = decodeFieldNames(type);
  const msg: Record<string, unknown> = { type, tag };
  for (const k of probe) msg[k] = v[k];
  return msg as Message;
}

/** Field names of a type, learned from decoding a zero-filled body large enough for it. */
function decodeFieldNames(type: MessageName): string[] {
  const frame = new Uint8Array(7 + 400);
  new DataView(frame.buffer).setUint32(0, frame.length, true);
  frame[4] = typeNumber(type);
  const d = decodeMessage(frame);
  if (!d.ok) throw new Error(d.reason);
  return Object.keys(d.msg).filter((k) => k !== 'type' && k !== 'tag');
}

describe('9P codec', () => {
  it('round-trips every message type', () => {
    expect(MESSAGE_TYPES.length).toBeGreaterThanOrEqual(66);
    for (const type of MESSAGE_TYPES) {
      const m = sample(type);
      const bytes = encodeMessage(m);
      expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(bytes.length);
      expect(bytes[4]).toBe(typeNumber(type));
      const d = decodeMessage(bytes);
      expect(d.ok, type).toBe(true);
      if (d.ok) expect(d.msg, type).toEqual(m);
      // And back again, byte for byte.
      if (d.ok) expect(encodeMessage(d.msg)).toEqual(bytes);
    }
  });

  it('uses the 9P2000.L type numbers and layouts Linux uses', () => {
    expect(typeNumber('Tgetattr')).toBe(24);
    expect(typeNumber('Treaddir')).toBe(40);
    expect(typeNumber('Rlerror')).toBe(7);
    expect(typeNumber('Twalk')).toBe(110);
    // Tversion, tag NOTAG, msize 8192, "9P2000.L": the bytes a kernel sends.
    const bytes = encodeMessage({ type: 'Tversion', tag: 0xffff, msize: 8192, version: '9P2000.L' });
    expect([...bytes]).toEqual([21, 0, 0, 0, 100, 0xff, 0xff, 0, 0x20, 0, 0, 8, 0, ...new TextEncoder().encode('9P2000.L')]);
    expect(encodeMessage(sample('Rgetattr')).length).toBe(7 + 153);
    expect(encodeMessage({ type: 'Rread', tag: 1, data: new Uint8Array(5) }).length).toBe(11 + 5);
  });

  it('answers malformed input with a defined result, never an exception', () => {
    const good = encodeMessage({ type: 'Twalk', tag: 9, fid: 1, newfid: 2, wnames: ['abc', 'def'] });
    // Truncated anywhere inside the body: EPROTO, with the tag preserved.
    for (let n = 7; n < good.length; n++) {
      const cut = good.slice(0, n);
      new DataView(cut.buffer).setUint32(0, n, true);
      const d = decodeMessage(cut);
      expect(d).toMatchObject({ ok: false, tag: 9, errno: Errno.EPROTO });
    }
    expect(decodeMessage(good.slice(0, 5))).toMatchObject({ ok: false, errno: Errno.EPROTO });
    // Size field disagreeing with the frame.
    const wrong = good.slice();
    new DataView(wrong.buffer).setUint32(0, 999, true);
    expect(decodeMessage(wrong)).toMatchObject({ ok: false, errno: Errno.EPROTO });
    // A string length running past the end.
    const s = encodeMessage({ type: 'Treadlink', tag: 1, fid: 1 });
    const longStr = encodeMessage({ type: 'Rreadlink', tag: 3, target: 'abc' });
    longStr[7] = 200;
    expect(decodeMessage(longStr)).toMatchObject({ ok: false, tag: 3, errno: Errno.EPROTO });
    // Counts running past the end: qids, strings, data.
    const rw = encodeMessage({ type: 'Rwalk', tag: 4, qids: [qid] });
    rw[7] = 2;
    expect(decodeMessage(rw)).toMatchObject({ ok: false, errno: Errno.EPROTO });
    const tw = encodeMessage({ type: 'Twalk', tag: 4, fid: 0, newfid: 1, wnames: [] });
    tw[15] = 0xff;
    tw[16] = 0xff;
    expect(decodeMessage(tw)).toMatchObject({ ok: false, errno: Errno.EPROTO });
    const rr = encodeMessage({ type: 'Rread', tag: 4, data: new Uint8Array(3) });
    rr[10] = 0x80;
    expect(decodeMessage(rr)).toMatchObject({ ok: false, errno: Errno.EPROTO });
    // Unknown types: EOPNOTSUPP.
    for (const t of [0, 6, 99, 106, 128, 255]) {
      const u = s.slice();
      u[4] = t;
      expect(decodeMessage(u)).toMatchObject({ ok: false, type: t, tag: 1, errno: Errno.EOPNOTSUPP });
    }
    // Trailing bytes are tolerated (fields appended by newer kernels).
    const ext = new Uint8Array(s.length + 4);
    ext.set(s);
    new DataView(ext.buffer).setUint32(0, ext.length, true);
    expect(decodeMessage(ext)).toMatchObject({ ok: true, msg: { type: 'Treadlink', fid: 1 } });
  });

  it('refuses to encode what the wire cannot carry', () => {
    expect(() => encodeMessage({ type: 'Rreadlink', tag: 1, target: 'x'.repeat(70_000) })).toThrow(WireError);
    expect(() => encodeMessage({ type: 'Tclunk', tag: 1, fid: -1 })).toThrow(WireError);
    expect(() => encodeMessage({ type: 'Tclunk', tag: 0x10000, fid: 1 })).toThrow(WireError);
    expect(() => encodeMessage({ type: 'Rxattrwalk', tag: 1, size: 5 as unknown as bigint })).toThrow(WireError);
    expect(() => encodeMessage({ type: 'Tnope', tag: 1 } as unknown as Message)).toThrow(WireError);
  });

  it('packs and decodes dirents within a byte limit', () => {
    const p = new DirentPacker(24 + 1 + 24 + 3);
    expect(p.add({ qid, offset: 1n, type: 4, name: '.' })).toBe(true);
    expect(p.add({ qid, offset: 2n, type: 4, name: '..' })).toBe(true);
    expect(p.add({ qid, offset: 3n, type: 8, name: 'x' })).toBe(false);
    const d = decodeDirents(p.bytes());
    expect(d).toEqual([
      { qid, offset: 1n, type: 4, name: '.' },
      { qid, offset: 2n, type: 4, name: '..' },
    ]);
    expect(() => decodeDirents(p.bytes().subarray(0, 30))).toThrow(WireError);
  });
});
