// The VM worker's side with a real (tiny, hand-assembled) wasm module instead of a c2w
// VM: it accepts on the listening fd, sends "hello" over the connection, receives into a
// buffer and writes "hello" to stdout. Run once against the bare patches and once
// through startContainer (fetch, gunzip, browser_wasi_shim, fds, argv).
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fetchVmImage, packInfo, patchSocketImports, patchTtyImports, randomMac, ringSocket, startContainer, vmArgs } from '../../src/c2w/index.js';
import { attachStackToRings, createRingBuffers } from '../../src/transport/rings.js';
import { fakeTty, until } from './helpers.js';
import { call, fnType, i32, load, section, store, str, uleb, vec } from '../helpers/tiny-wasm.js';

/**
 * Memory map: iovec for sending @16 (buf 64, len 5), iovec for receiving @24 (buf 128,
 * len 16), "hello" @64. Results: errno of accept/send/recv/fd_write @200/204/208/212;
 * accepted fd @100, bytes sent @104, bytes received @108, ro_flags @112, written @116.
 */
function socketProgram(): Uint8Array<ArrayBuffer> {
  const W = 'wasi_snapshot_preview1';
  const types = vec([fnType(3, 1), fnType(5, 1), fnType(6, 1), fnType(0, 0), fnType(4, 1)]);
  const imports = vec([
    [...str(W), ...str('sock_accept'), 0x00, 0],
    [...str(W), ...str('sock_send'), 0x00, 1],
    [...str(W), ...str('sock_recv'), 0x00, 2],
    [...str(W), ...str('fd_write'), 0x00, 4],
  ]);
  const body = [
    0x00, // no locals
    ...i32(200), ...i32(4), ...i32(0), ...i32(100), ...call(0), ...store,
    ...i32(204), ...i32(100), ...load, ...i32(16), ...i32(1), ...i32(0), ...i32(104), ...call(1), ...store,
    ...i32(208), ...i32(100), ...load, ...i32(24), ...i32(1), ...i32(0), ...i32(108), ...i32(112), ...call(2), ...store,
    ...i32(212), ...i32(1), ...i32(16), ...i32(1), ...i32(116), ...call(3), ...store,
    0x0b,
  ];
  const iovecs = [64, 0, 0, 0, 5, 0, 0, 0, 128, 0, 0, 0, 16, 0, 0, 0];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, imports),
    ...section(3, vec([[3]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...str('memory'), 0x02, 0], [...str('_start'), 0x00, 4]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
    ...section(11, vec([[0x00, ...i32(16), 0x0b, ...uleb(iovecs.length), ...iovecs], [0x00, ...i32(64), 0x0b, ...str('hello')]])),
  ]);
}

function withStack() {
  const rings = createRingBuffers();
  const got: Uint8Array[] = [];
  const stack = attachStackToRings(rings, (b) => got.push(b.slice()));
  const sent = () => Buffer.concat(got).toString();
  return { rings, stack, sent };
}

describe('a real wasm module on the patched imports', () => {
  it('accepts, sends, receives and writes to the console', async () => {
    const { rings, stack, sent } = withStack();
    stack.write(new TextEncoder().encode('world'));
    const socket = ringSocket(rings);
    await until(() => socket.readable() === 5);
    let memory: WebAssembly.Memory | undefined;
    const imports: Record<string, (...a: any[]) => unknown> = {};
    const tty = fakeTty();
    const sock = patchSocketImports(imports, { memory: () => memory!, socket, listenFd: 4, connFd: 5 });
    patchTtyImports(imports, { memory: () => memory!, tty, socket: { fd: 5, connected: () => sock.connected, readable: socket.readable, waitReadable: socket.waitReadable } });
    const { instance } = await WebAssembly.instantiate(socketProgram(), { wasi_snapshot_preview1: imports });
    memory = instance.exports.memory as WebAssembly.Memory;
    (instance.exports._start as () => void)();
    const dv = new DataView(memory.buffer);
    const u32 = (p: number) => dv.getUint32(p, true);
    expect([u32(200), u32(204), u32(208), u32(212)]).toEqual([0, 0, 0, 0]);
    expect(u32(100)).toBe(5);
    expect([u32(104), u32(108), u32(116)]).toEqual([5, 5, 5]);
    expect(Buffer.from(memory.buffer, 128, 5).toString()).toBe('world');
    expect(Buffer.from(tty.out).toString()).toBe('hello');
    await until(() => sent() === 'hello');
    stack.close();
  });
});

describe('startContainer', () => {
  it('fetches a gzip VM image, runs it with the rings and the TtyClient, resolves with its exit code', async () => {
    const { rings, stack, sent } = withStack();
    stack.write(new TextEncoder().encode('world'));
    await until(() => ringSocket(rings).readable() === 5);
    const urls: string[] = [];
    const fetchFn = (async (u: string) => (urls.push(u), new Response(new Uint8Array(gzipSync(socketProgram()))))) as unknown as typeof fetch;
    const tty = fakeTty();
    const code = await startContainer({ vmImage: 'https://example.test/out.wasm.gzip', net: rings, cert: new Uint8Array(0) }, ['sh'], tty, { fetch: fetchFn });
    expect(code).toBe(0);
    expect(urls).toEqual(['https://example.test/out.wasm.gzip']);
    expect(Buffer.from(tty.out).toString()).toBe('hello');
    await until(() => sent() === 'hello');
    // The bytes it received were consumed from fromNet.
    expect(ringSocket(rings).readable()).toBe(0);
    stack.close();
  });
});

describe('VM image and environment', () => {
  const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const serve = (body: Uint8Array<ArrayBuffer>, status = 200) => (async () => new Response(body, { status })) as unknown as typeof fetch;

  it('gunzips by content, and takes already-decoded bytes under a .gz name as they are', async () => {
    expect(await fetchVmImage('/out.wasm', serve(new Uint8Array(gzipSync(wasm))))).toEqual(wasm);
    expect(await fetchVmImage('/out.wasm.gzip', serve(new Uint8Array(gzipSync(wasm))))).toEqual(wasm);
    expect(await fetchVmImage('/out.wasm.gz?x=1', serve(wasm))).toEqual(wasm);
    expect(await fetchVmImage('/out.wasm', serve(wasm))).toEqual(wasm);
    await expect(fetchVmImage('/out.wasm.gz', serve(new Uint8Array([1, 2, 3, 4])))).rejects.toThrow();
    await expect(fetchVmImage('/missing.wasm', serve(new Uint8Array(0), 404))).rejects.toThrow(/HTTP 404/);
  });

  it("builds c2w's argv, MAC and /pack/info", () => {
    expect(randomMac()).toMatch(/^02(:[0-9A-F]{2}){5}$/);
    expect(vmArgs(['/bin/sh', '-c', 'ls'], '02:00:00:00:00:01')).toEqual([
      'arg0',
      '--net=socket=listenfd=4',
      '--mac',
      '02:00:00:00:00:01',
      '--external-bundle=9p=192.168.127.252',
      '/bin/sh',
      '-c',
      'ls',
    ]);
    const info = packInfo({ withImage: true, mac: '02:00:00:00:00:02', now: 1_700_000_000_000, extraInfo: 'x: y\n' });
    expect(info.split('\n')).toEqual([
      't:1700000000',
      'n:02:00:00:00:00:02',
      'mr: .wasmenv',
      'env: SSL_CERT_FILE=/.wasmenv/proxy.crt',
      'env: https_proxy=http://192.168.127.253:80',
      'env: http_proxy=http://192.168.127.253:80',
      'env: HTTPS_PROXY=http://192.168.127.253:80',
      'env: HTTP_PROXY=http://192.168.127.253:80',
      'env: no_proxy=localhost,127.0.0.1',
      'env: NO_PROXY=localhost,127.0.0.1',
      'b: 9p=192.168.127.252',
      'x: y',
      '',
    ]);
    expect(packInfo({ withImage: false })).not.toMatch(/^b:/m);
  });
});
