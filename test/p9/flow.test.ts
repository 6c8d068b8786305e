// Tags, flush, out-of-order completion, framing and connection life cycle.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { treeFileSystem } from '../../src/fs/index.js';
import { Errno, P9Error, P9Server, encodeMessage, type Message, type RMessage } from '../../p9/index.js';
import { concat } from '../fs/helpers.js';
import { fixture, type Fixture } from './fixture.js';
import { Client, gatedFs, session, settle, takeProblems } from './harness.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture();
});
afterEach(() => expect(takeProblems()).toEqual([]));
const fs = () => treeFileSystem(fx.route);
const text = (r: RMessage) => new TextDecoder().decode((r as Message<'Rread'>).data);

describe('9P flow: tags and slow reads', () => {
  it('serves other requests while reads are pending and replies out of order', async () => {
    const g = gatedFs(fs());
    const c = await session(g.fs);
    await c.open(1, 'rootfs/etc/hostname');
    const a = c.rpc({ type: 'Tread', fid: 1, offset: 0n, count: 2, tag: 10 });
    const b = c.rpc({ type: 'Tread', fid: 1, offset: 2n, count: 2, tag: 11 });
    expect(g.pending).toHaveLength(2);
    // A request behind them is answered at once.
    await c.call({ type: 'Tgetattr', fid: 1, requestMask: 0x7ffn, tag: 12 }, 'Rgetattr');
    g.pending[1]!.release();
    expect(text(await b)).toBe('x\n');
    g.pending[0]!.release();
    expect(text(await a)).toBe('bo');
    expect(c.replies.slice(-3).map((r) => [r.type, r.tag])).toEqual([['Rgetattr', 12], ['Rread', 11], ['Rread', 10]]);
  });

  it('flushes an in-flight read: Rflush, and the read reply never follows', async () => {
    const g = gatedFs(fs());
    const c = await session(g.fs);
    await c.open(1, 'rootfs/etc/hostname');
    c.send({ type: 'Tread', fid: 1, offset: 0n, count: 4, tag: 20 });
    await c.call({ type: 'Tflush', oldtag: 20, tag: 21 }, 'Rflush');
    g.pending[0]!.release();
    await settle();
    expect(c.replies.some((r) => r.tag === 20)).toBe(false);
    // The tag is free again.
    const again = c.rpc({ type: 'Tread', fid: 1, offset: 0n, count: 4, tag: 20 });
    g.pending[1]!.release();
    expect(text(await again)).toBe('box\n');
    // Flushing a tag that is not in flight answers at once.
    await c.call({ type: 'Tflush', oldtag: 999 }, 'Rflush');
  });

  it('answers a duplicate in-flight tag with EINVAL and still completes the first', async () => {
    const g = gatedFs(fs());
    const c = await session(g.fs);
    await c.open(1, 'rootfs/etc/hostname');
    c.send({ type: 'Tread', fid: 1, offset: 0n, count: 4, tag: 30 });
    c.send({ type: 'Tgetattr', fid: 1, requestMask: 1n, tag: 30 });
    expect(c.replies.at(-1)).toEqual({ type: 'Rlerror', tag: 30, ecode: Errno.EINVAL });
    const first = c.reply(30);
    g.pending[0]!.release();
    expect(text(await first)).toBe('box\n');
  });

  it('turns failing reads into Rlerror: P9Error keeps its errno, anything else is EIO and logged', async () => {
    const g = gatedFs(fs());
    const warnings: string[] = [];
    const c = await session(g.fs, { logger: { warn: (m) => warnings.push(m) } });
    await c.open(1, 'rootfs/etc/hostname');
    const a = c.rpc({ type: 'Tread', fid: 1, offset: 0n, count: 4 });
    const b = c.rpc({ type: 'Tread', fid: 1, offset: 0n, count: 4 });
    g.pending[0]!.fail(new P9Error(Errno.ENODATA));
    g.pending[1]!.fail(new Error('layer fetch failed'));
    expect(await a).toMatchObject({ type: 'Rlerror', ecode: Errno.ENODATA });
    expect(await b).toMatchObject({ type: 'Rlerror', ecode: Errno.EIO });
    expect(warnings.join('\n')).toContain('layer fetch failed');
    // Synchronous throws from any filesystem method too.
    const broken = treeFileSystem(fx.route);
    broken.statfs = () => {
      throw new TypeError('bug');
    };
    const c2 = await session(broken);
    expect(await c2.err({ type: 'Tstatfs', fid: 0 })).toBe(Errno.EIO);
  });

  it('abandons pending replies on a new Tversion', async () => {
    const g = gatedFs(fs());
    const c = await session(g.fs);
    await c.open(1, 'rootfs/etc/hostname');
    c.send({ type: 'Tread', fid: 1, offset: 0n, count: 4, tag: 40 });
    await c.version();
    g.pending[0]!.release();
    await settle();
    expect(c.replies.some((r) => r.tag === 40)).toBe(false);
  });

  it('survives a client that disconnects mid-read: no throw, nothing sent after end()', async () => {
    const g = gatedFs(fs());
    const c = await session(g.fs);
    await c.open(1, 'rootfs/big');
    c.send({ type: 'Tread', fid: 1, offset: 0n, count: 4096, tag: 50 });
    c.send({ type: 'Tread', fid: 1, offset: 4096n, count: 4096, tag: 51 });
    c.end();
    g.pending[0]!.release();
    g.pending[1]!.fail(new Error('gone'));
    await settle();
    c.conn.receive(encodeMessage({ type: 'Tclunk', tag: 52, fid: 1 }));
    c.end();
    expect(c.lateSends).toBe(0);
    expect(c.replies.some((r) => [50, 51, 52].includes(r.tag))).toBe(false);
  });

  it('opens and clunks 10 000 fids', async () => {
    const c = await session(fs());
    for (let fid = 1; fid <= 10_000; fid++) c.send({ type: 'Twalk', fid: 0, newfid: fid, wnames: ['rootfs', 'etc'] });
    for (let fid = 1; fid <= 10_000; fid++) c.send({ type: 'Tlopen', fid, flags: 0 });
    for (let fid = 1; fid <= 10_000; fid++) c.send({ type: 'Tclunk', fid });
    expect(c.replies.length).toBe(2 + 30_000);
    expect(c.replies.filter((r) => r.type === 'Rlerror')).toHaveLength(0);
    expect(await c.err({ type: 'Tclunk', fid: 5000 })).toBe(Errno.EBADF);
  });
});

describe('9P flow: framing', () => {
  it('reassembles any chunking: byte by byte, and many messages in one chunk', async () => {
    const msgs: Message[] = [
      { type: 'Tversion', tag: 0xffff, msize: 8192, version: '9P2000.L' },
      { type: 'Tattach', tag: 1, fid: 0, afid: 0xffffffff, uname: 'u', aname: '', nUname: 0 },
      { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['config', 'config.json'] },
      { type: 'Treadlink', tag: 3, fid: 1 },
      { type: 'Tgetattr', tag: 4, fid: 1, requestMask: 0x7ffn },
    ];
    const stream = concat(msgs.map(encodeMessage));
    const whole = new Client(new P9Server(fs()));
    whole.conn.receive(stream);
    const bytewise = new Client(new P9Server(fs()));
    const buf = new Uint8Array(1);
    for (const b of stream) {
      buf[0] = b; // the server must copy what it keeps: the caller reuses its buffer
      bytewise.conn.receive(buf);
    }
    const odd = new Client(new P9Server(fs()));
    for (let i = 0; i < stream.length; i += 13) odd.conn.receive(stream.slice(i, i + 13));
    expect(whole.replies.map((r) => r.type)).toEqual(['Rversion', 'Rattach', 'Rwalk', 'Rlerror', 'Rgetattr']);
    expect(bytewise.replies).toEqual(whole.replies);
    expect(odd.replies).toEqual(whole.replies);
  });

  it('closes the connection on a size field below 7 or above msize, and sends nothing after', async () => {
    for (const size of [0, 6, 8193, 0xffffffff]) {
      const c = await session(fs(), {}, 8192);
      const n = c.replies.length;
      const bad = new Uint8Array(16);
      new DataView(bad.buffer).setUint32(0, size, true);
      c.conn.receive(bad);
      expect(c.closed, `size ${size}`).toMatch(/size/);
      c.conn.receive(encodeMessage({ type: 'Tclunk', tag: 1, fid: 0 }));
      expect(c.replies.length).toBe(n);
      expect(c.lateSends).toBe(0);
    }
    // Before Tversion the limit is the server's maximum.
    const c = new Client(new P9Server(fs(), { maxMsize: 8192 }));
    const big = new Uint8Array(8);
    new DataView(big.buffer).setUint32(0, 8193, true);
    c.conn.receive(big);
    expect(c.closed).toBeDefined();
    // A message of exactly msize is accepted.
    const d = await session(fs(), {}, 8192);
    const w = encodeMessage({ type: 'Twrite', tag: 7, fid: 0, offset: 0n, data: new Uint8Array(8192 - 23) });
    expect(w.length).toBe(8192);
    d.conn.receive(w);
    expect(d.replies.at(-1)).toEqual({ type: 'Rlerror', tag: 7, ecode: Errno.EROFS });
  });

  it('answers a malformed body with EPROTO and keeps the connection', async () => {
    const c = await session(fs());
    const m = encodeMessage({ type: 'Twalk', tag: 5, fid: 0, newfid: 1, wnames: ['rootfs'] });
    m[16] = 9; // nwname 9, only one name present
    c.conn.receive(m);
    expect(c.replies.at(-1)).toEqual({ type: 'Rlerror', tag: 5, ecode: Errno.EPROTO });
    await c.call({ type: 'Twalk', fid: 0, newfid: 1, wnames: ['rootfs'] }, 'Rwalk');
    expect(c.closed).toBeUndefined();
  });

  it('keeps every reply below msize even when a filesystem returns too much', async () => {
    const big = treeFileSystem(fx.route);
    big.readlink = () => 'x'.repeat(5000);
    big.read = () => new Uint8Array(100_000);
    const c = await session(big, {}, 4096);
    await c.walk(0, 1, 'rootfs/bin/sh');
    expect(await c.err({ type: 'Treadlink', fid: 1 })).toBe(Errno.EMSGSIZE);
    await c.walk(0, 2, 'rootfs/big');
    const r = await c.call({ type: 'Tread', fid: 2, offset: 0n, count: 1 << 20 }, 'Rread');
    expect(r.data.length).toBe(4096 - 12);
  });
});

describe('9P flow: re-entrancy', () => {
  it('keeps order when the send callback feeds bytes back in', async () => {
    const server = new P9Server(treeFileSystem(fx.route));
    const seen: number[] = [];
    let conn: ReturnType<P9Server['connect']> | undefined;
    conn = server.connect(
      (bytes) => {
        const tag = bytes[5]! | (bytes[6]! << 8);
        seen.push(tag);
        // Answering the first reply with a new request, while the server is mid-chunk.
        if (tag === 1) conn!.receive(encodeMessage({ type: 'Tflush', tag: 9, oldtag: 0 }));
      },
      () => {},
    );
    conn.receive(
      concat([
        encodeMessage({ type: 'Tversion', tag: 0xffff, msize: 8192, version: '9P2000.L' }),
        encodeMessage({ type: 'Tattach', tag: 1, fid: 0, afid: 0xffffffff, uname: '', aname: '', nUname: 0 }),
        encodeMessage({ type: 'Tclunk', tag: 2, fid: 0 }),
      ]),
    );
    expect(seen).toEqual([0xffff, 1, 2, 9]);
  });
});
