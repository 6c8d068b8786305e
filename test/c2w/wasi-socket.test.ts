// The socket imports a c2w VM calls (sock_accept/send/recv/shutdown, fd_read/fd_write on
// the accepted fd, fdstat/prestat reservations), driven through a bare memory, with the
// stack's end of the rings played by attachStackToRings or by another thread.
import { describe, expect, it } from 'vitest';
import { patchSocketImports, ringSocket } from '../../src/c2w/index.js';
import { attachStackToRings, createRingBuffers, TO_NET_CAPACITY, vmRingEndpoint } from '../../src/transport/rings.js';
import { drainToNetLater, guestMemory, pattern, sameBytes, until } from './helpers.js';

const LISTEN = 4;
const CONN = 5;
const AGAIN = 6;
const BADF = 8;
const INVAL = 28;

function setup() {
  const rings = createRingBuffers();
  const m = guestMemory(4);
  const calls: string[] = [];
  // What browser_wasi_shim answers for fds it has no object for.
  const imports: Record<string, (...a: any[]) => unknown> = {
    fd_read: (fd: number) => (calls.push(`fd_read ${fd}`), BADF),
    fd_write: (fd: number) => (calls.push(`fd_write ${fd}`), BADF),
    fd_close: (fd: number) => (calls.push(`fd_close ${fd}`), BADF),
    fd_fdstat_get: (fd: number) => (calls.push(`fd_fdstat_get ${fd}`), BADF),
    fd_prestat_get: (fd: number) => (calls.push(`fd_prestat_get ${fd}`), BADF),
  };
  const socket = ringSocket(rings);
  const warnings: string[] = [];
  const patch = patchSocketImports(imports, { memory: m.get, socket, listenFd: LISTEN, connFd: CONN, logger: { warn: (w) => warnings.push(w) } });
  const got: Uint8Array[] = [];
  const stack = attachStackToRings(rings, (b) => got.push(b.slice()));
  const received = () => Buffer.concat(got);
  return { rings, m, imports, calls, socket, patch, warnings, stack, received };
}

describe('c2w socket imports', () => {
  it('accepts once on the listening fd and hands out the connection fd', () => {
    const { m, imports, patch, warnings, stack } = setup();
    expect(imports.sock_accept!(3, 0, 100)).toBe(INVAL);
    expect(patch.connected).toBe(false);
    expect(imports.sock_accept!(LISTEN, 0, 100)).toBe(0);
    expect(m.u32(100)).toBe(CONN);
    expect(patch.connected).toBe(true);
    // c2w's VM takes one connection; a second accept is refused, not queued.
    expect(imports.sock_accept!(LISTEN, 0, 100)).toBe(INVAL);
    expect(warnings.join('\n')).toMatch(/already has its connection/);
    // shutdown frees it again.
    expect(imports.sock_shutdown!(CONN, 3)).toBe(0);
    expect(patch.connected).toBe(false);
    expect(imports.sock_accept!(LISTEN, 0, 100)).toBe(0);
    stack.close();
  });

  it('sock_send writes every iovec into toNet, in order', async () => {
    const { m, imports, stack, received } = setup();
    imports.sock_accept!(LISTEN, 0, 100);
    m.put(1000, 'hello ');
    m.put(2000, 'world');
    m.iovecs(16, [
      [1000, 6],
      [3000, 0],
      [2000, 5],
    ]);
    expect(imports.sock_send!(CONN, 16, 3, 0, 200)).toBe(0);
    expect(m.u32(200)).toBe(11);
    // fd_write on the connection fd is the same send.
    m.iovecs(40, [[1000, 5]]);
    expect(imports.fd_write!(CONN, 40, 1, 204)).toBe(0);
    expect(m.u32(204)).toBe(5);
    await until(() => received().length === 16);
    expect(received().toString()).toBe('hello worldhello');
    expect(imports.sock_send!(3, 16, 1, 0, 200)).toBe(INVAL);
    stack.close();
  });

  it('sock_recv fills iovecs from fromNet; nothing waiting is EAGAIN', async () => {
    const { m, imports, socket, stack } = setup();
    imports.sock_accept!(LISTEN, 0, 100);
    m.iovecs(16, [
      [1000, 4],
      [2000, 100],
    ]);
    m.setU32(300, 0xffff);
    expect(imports.sock_recv!(CONN, 16, 2, 0, 200, 300)).toBe(AGAIN);
    stack.write(new TextEncoder().encode('abcdefghij'));
    await until(() => socket.readable() === 10);
    expect(imports.sock_recv!(CONN, 16, 2, 0, 200, 300)).toBe(0);
    expect(m.u32(200)).toBe(10);
    expect(new TextDecoder().decode(m.bytes(1000, 4))).toBe('abcd');
    expect(new TextDecoder().decode(m.bytes(2000, 6))).toBe('efghij');
    expect(m.u32(300) & 0xffff).toBe(0); // ro_flags
    // fd_read on the connection fd reads the same stream (and writes no ro_flags).
    stack.write(new TextEncoder().encode('xyz'));
    await until(() => socket.readable() === 3);
    m.setU32(0, 0x12345678);
    expect(imports.fd_read!(CONN, 16, 1, 204)).toBe(0);
    expect(m.u32(204)).toBe(3);
    expect(new TextDecoder().decode(m.bytes(1000, 3))).toBe('xyz');
    expect(m.u32(0)).toBe(0x12345678);
    expect(imports.fd_read!(CONN, 16, 1, 204)).toBe(AGAIN);
    expect(socket.stats.received).toBe(13);
    stack.close();
  });

  it('reports both socket fds as non-blocking stream sockets and reserves them in the preopen scan', () => {
    const { m, imports, calls, stack } = setup();
    expect(imports.fd_fdstat_get!(LISTEN, 500)).toBe(0);
    expect(m.bytes(500, 1)[0]).toBe(6); // socket_stream
    expect(new DataView(m.memory.buffer).getUint16(502, true)).toBe(4); // fdflags.nonblock
    expect(new DataView(m.memory.buffer).getBigUint64(508, true) & 0x42n).toBe(0x42n); // fd_read | fd_write
    // The connection fd is a socket only once accepted.
    expect(imports.fd_fdstat_get!(CONN, 500)).toBe(BADF);
    imports.sock_accept!(LISTEN, 0, 100);
    expect(imports.fd_fdstat_get!(CONN, 500)).toBe(0);
    // prestat: a tag that is not "dir", so wasi-libc skips the fd and keeps scanning.
    for (const fd of [LISTEN, CONN]) {
      m.put(600, Uint8Array.of(0));
      expect(imports.fd_prestat_get!(fd, 600)).toBe(0);
      expect(m.bytes(600, 1)[0]).toBe(1);
    }
    expect(imports.fd_prestat_get!(6, 600)).toBe(BADF);
    // Other fds reach the original imports.
    expect(imports.fd_read!(7, 16, 1, 200)).toBe(BADF);
    expect(imports.fd_close!(CONN)).toBe(0);
    expect(imports.fd_close!(9)).toBe(BADF);
    expect(calls).toEqual(['fd_fdstat_get 5', 'fd_prestat_get 6', 'fd_read 7', 'fd_close 9']);
    stack.close();
  });

  it('waits while toNet is full, counts the retries and drops nothing', async () => {
    const rings = createRingBuffers();
    const m = guestMemory(40); // 2.5 MiB
    const imports: Record<string, (...a: any[]) => unknown> = {};
    const socket = ringSocket(rings);
    patchSocketImports(imports, { memory: m.get, socket, listenFd: LISTEN, connFd: CONN });
    imports.sock_accept!(LISTEN, 0, 100);
    // Fill toNet but for 1000 bytes, then send more than fits, and more than the ring
    // holds at all, while nobody reads: the send blocks until the other thread drains.
    const vm = vmRingEndpoint(rings);
    const prefill = pattern(TO_NET_CAPACITY - 1000, 7);
    expect(vm.send(prefill)).toBe(true);
    const payload = pattern(TO_NET_CAPACITY + 300_000, 9);
    m.put(65536, payload);
    m.iovecs(16, [[65536, payload.length]]);
    const drained = drainToNetLater(rings.toNet, prefill.length + payload.length, 100);
    const t0 = Date.now();
    expect(imports.sock_send!(CONN, 16, 1, 0, 200)).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(m.u32(200)).toBe(payload.length);
    expect(socket.stats.fullRetries).toBeGreaterThan(0);
    expect(socket.stats.sent).toBe(payload.length);
    const all = await drained;
    expect(sameBytes(all.subarray(0, prefill.length), prefill)).toBe(true);
    expect(sameBytes(all.subarray(prefill.length), payload)).toBe(true);
  });
});
