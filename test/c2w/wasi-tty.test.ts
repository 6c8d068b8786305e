// Console and poll_oneoff imports: fd 0/1/2 through a TtyClient, and waiting on stdin,
// the accepted socket and clocks at once.
import { describe, expect, it } from 'vitest';
import { patchTtyImports, ringSocket, type PollableSocket } from '../../src/c2w/index.js';
import { attachStackToRings, createRingBuffers } from '../../src/transport/rings.js';
import { fakeTty, guestMemory, until, writeFromNetLater } from './helpers.js';

const CONN = 5;
const BADF = 8;
const INVAL = 28;
const CLOCK = 0;
const FD_READ = 1;
const FD_WRITE = 2;
const MS = 1_000_000n;

function setup(input: number[] = [], connected = true) {
  const rings = createRingBuffers();
  const m = guestMemory();
  const tty = fakeTty(input);
  const sock = ringSocket(rings);
  const socket: PollableSocket = { fd: CONN, connected: () => connected, readable: () => sock.readable(), waitReadable: (ms) => sock.waitReadable(ms) };
  const orig: string[] = [];
  const imports: Record<string, (...a: any[]) => unknown> = {
    fd_read: (fd: number) => (orig.push(`fd_read ${fd}`), BADF),
    fd_write: (fd: number) => (orig.push(`fd_write ${fd}`), BADF),
  };
  patchTtyImports(imports, { memory: m.get, tty, socket });
  const poll = (n: number) => {
    const t0 = Date.now();
    const r = imports.poll_oneoff!(1000, 4000, n, 8000);
    return { r, ms: Date.now() - t0, events: m.events(4000, m.u32(8000)) };
  };
  return { rings, m, tty, imports, orig, poll };
}

describe('c2w console imports', () => {
  it('reads stdin and writes stdout/stderr through the TtyClient', () => {
    const { m, tty, imports, orig } = setup([104, 105, 10]);
    m.iovecs(16, [
      [100, 2],
      [200, 10],
    ]);
    // One read per call, like a terminal: the first iovec only.
    expect(imports.fd_read!(0, 16, 2, 300)).toBe(0);
    expect(m.u32(300)).toBe(2);
    expect([...m.bytes(100, 2)]).toEqual([104, 105]);
    expect(tty.input).toEqual([10]);
    m.put(400, 'out');
    m.put(500, 'err');
    m.iovecs(32, [
      [400, 3],
      [500, 3],
    ]);
    expect(imports.fd_write!(1, 32, 2, 300)).toBe(0);
    expect(m.u32(300)).toBe(6);
    expect(imports.fd_write!(2, 32, 1, 300)).toBe(0);
    expect(Buffer.from(tty.out).toString()).toBe('outerrout');
    expect(imports.fd_write!(7, 32, 1, 300)).toBe(BADF);
    expect(imports.fd_read!(3, 16, 1, 300)).toBe(BADF);
    expect(orig).toEqual(['fd_write 7', 'fd_read 3']);
  });
});

describe('c2w poll_oneoff', () => {
  it('rejects an empty or unknown subscription list', () => {
    const { m, imports } = setup();
    expect(imports.poll_oneoff!(1000, 4000, 0, 8000)).toBe(INVAL);
    m.fdSub(1000, 1n, 0);
    m.put(1008, Uint8Array.of(9)); // no such event type
    expect(imports.poll_oneoff!(1000, 4000, 1, 8000)).toBe(INVAL);
  });

  it('sleeps on a clock alone, without spinning, and reports it', () => {
    const { m, poll } = setup();
    m.clockSub(1000, 42n, 60n * MS);
    const { r, ms, events } = poll(1);
    expect(r).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(55);
    expect(events).toEqual([{ userdata: 42n, error: 0, type: CLOCK, nbytes: 0n }]);
  });

  it('honours an absolute clock deadline', () => {
    const { m, poll } = setup();
    const now = BigInt(Math.round(performance.now() * 1e6));
    m.clockSub(1000, 7n, now + 40n * MS, { clockId: 1, abstime: true });
    const { ms, events } = poll(1);
    expect(ms).toBeGreaterThanOrEqual(30);
    expect(ms).toBeLessThan(1000);
    expect(events.map((e) => e.userdata)).toEqual([7n]);
  });

  it('returns at once when the socket already has data, with the byte count', async () => {
    const { rings, m, poll } = setup();
    const stack = attachStackToRings(rings, () => {});
    stack.write(new Uint8Array(321));
    const vmSock = ringSocket(rings);
    await until(() => vmSock.readable() === 321);
    m.fdSub(1000, 1n, CONN);
    m.clockSub(1048, 2n, 5000n * MS);
    const { ms, events } = poll(2);
    expect(ms).toBeLessThan(100);
    expect(events).toEqual([{ userdata: 1n, error: 0, type: FD_READ, nbytes: 321n }]);
    stack.close();
  });

  it('wakes when the stack writes to fromNet from another thread', async () => {
    const { rings, m, poll, tty } = setup();
    m.fdSub(1000, 1n, CONN);
    m.fdSub(1048, 3n, 0); // stdin too: looked at between waits
    m.clockSub(1096, 2n, 10_000n * MS);
    const writer = writeFromNetLater(rings.fromNet, Uint8Array.of(1, 2, 3), 150);
    const { ms, events } = poll(3);
    await writer;
    expect(ms).toBeGreaterThanOrEqual(100);
    expect(ms).toBeLessThan(2000);
    expect(events).toEqual([{ userdata: 1n, error: 0, type: FD_READ, nbytes: 3n }]);
    // stdin was asked without blocking (timeout 0) while the socket was polled.
    expect(tty.waits.every((t) => t === 0)).toBe(true);
    expect(tty.waits.length).toBeGreaterThan(1);
  });

  it('waits on the socket alone until the clock when nothing comes', () => {
    const { m, poll } = setup();
    m.fdSub(1000, 1n, CONN);
    m.clockSub(1048, 2n, 50n * MS);
    const { ms, events } = poll(2);
    expect(ms).toBeGreaterThanOrEqual(45);
    expect(events).toEqual([{ userdata: 2n, error: 0, type: CLOCK, nbytes: 0n }]);
  });

  it('lets the terminal block for the whole timeout when only stdin is polled', () => {
    const { m, poll, tty } = setup();
    m.fdSub(1000, 1n, 0);
    m.clockSub(1048, 2n, 1500n * MS);
    const { events } = poll(2);
    // First a look (0), then one wait for the rest of the 1.5 s, in seconds.
    expect(tty.waits[0]).toBe(0);
    expect(tty.waits[1]).toBeGreaterThan(1.4);
    expect(tty.waits[1]).toBeLessThanOrEqual(1.5);
    // The fake terminal answers at once; its "timeout" still ends the poll with the clock.
    expect(events.map((e) => e.type)).toEqual([CLOCK]);
  });

  it('asks the terminal to wait without limit when there is no clock', () => {
    const { m, poll, tty } = setup([65]);
    tty.onWaitForReadable = (t) => (tty.waits.push(t), t !== 0);
    m.fdSub(1000, 9n, 0);
    const { events } = poll(1);
    expect(tty.waits).toEqual([0, -1]);
    expect(events).toEqual([{ userdata: 9n, error: 0, type: FD_READ, nbytes: 1n }]);
  });

  it('reports writable fds and unknown fds at once', () => {
    const { m, poll } = setup([], true);
    m.fdSub(1000, 1n, 1, FD_WRITE);
    m.fdSub(1048, 2n, CONN, FD_WRITE);
    m.fdSub(1096, 3n, 17, FD_READ);
    m.clockSub(1144, 4n, 5000n * MS);
    const { ms, events } = poll(4);
    expect(ms).toBeLessThan(100);
    expect(events).toEqual([
      { userdata: 1n, error: 0, type: FD_WRITE, nbytes: 0n },
      { userdata: 2n, error: 0, type: FD_WRITE, nbytes: 0n },
      { userdata: 3n, error: BADF, type: FD_READ, nbytes: 0n },
    ]);
  });

  it('treats the connection fd as unknown before the VM accepted it', () => {
    const { m, poll } = setup([], false);
    m.fdSub(1000, 1n, CONN);
    const { events } = poll(1);
    expect(events).toEqual([{ userdata: 1n, error: BADF, type: FD_READ, nbytes: 0n }]);
  });
});
