import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attachLink, encodeFrame, FrameDecoder, frameLinkOverBytes, NetStack } from '../../src/net/index.js';
import { encodeFrames } from '../../src/net/framing.js';
import { buildDhcp, DISCOVER, OFFER, parseDhcp } from '../../src/net/dhcp.js';
import { ipToString } from '../../src/net/ipv4.js';
import { listenFrames, type FrameListener } from '../../src/transport/node-socket.js';
import { BCAST_MAC, decode, udpFrame, VM_MAC } from './helpers.js';

const discover = () =>
  udpFrame(0, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid: 77, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []), { dstMac: BCAST_MAC });

let listener: FrameListener | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await listener?.close();
  listener = undefined;
});

function serve(spec: Parameters<typeof listenFrames>[0]) {
  const closes: string[] = [];
  return listenFrames(spec, (link) => {
    const stack = new NetStack({ onTcpConnection: () => {} });
    attachLink(stack, link, (reason) => closes.push(reason));
  }).then((l) => ((listener = l), { l, closes }));
}

async function offerThrough(socket: Socket): Promise<string> {
  const d = new FrameDecoder();
  return new Promise((resolve, reject) => {
    socket.on('data', (b: Buffer) => {
      for (const f of d.push(b)) {
        const udp = decode(f).udp;
        const m = udp && parseDhcp(udp.payload);
        if (m?.type === OFFER) resolve(ipToString(m.yiaddr));
      }
    });
    socket.on('error', reject);
    // Byte at a time for the first bytes: the far end must reassemble.
    const bytes = encodeFrame(discover());
    socket.write(bytes.subarray(0, 3));
    setTimeout(() => socket.write(bytes.subarray(3)), 10);
  });
}

describe('listenFrames (QEMU -netdev socket/stream)', () => {
  it('answers DHCP over a real TCP socket', async () => {
    const { l } = await serve({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    expect(l.address).toBe(`tcp:127.0.0.1:${l.port}`);
    const s = connect(l.port, '127.0.0.1');
    sockets.push(s);
    expect(await offerThrough(s)).toBe('192.168.127.3');
  });

  it('answers DHCP over a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'net-'));
    try {
      const { l } = await serve({ kind: 'unix', path: join(dir, 'vm.sock') });
      const s = connect(join(dir, 'vm.sock'));
      sockets.push(s);
      expect(await offerThrough(s)).toBe('192.168.127.3');
      expect(l.address).toBe(`unix:${join(dir, 'vm.sock')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops the link on a corrupt length and reports VM disconnects', async () => {
    const { l, closes } = await serve({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const bad = connect(l.port, '127.0.0.1');
    sockets.push(bad);
    await new Promise((r) => bad.on('connect', r));
    bad.write(new Uint8Array([0x7f, 0, 0, 0]));
    await new Promise((r) => bad.on('close', r));
    const good = connect(l.port, '127.0.0.1');
    await new Promise((r) => good.on('connect', r));
    good.end();
    await new Promise((r) => good.on('close', r));
    await new Promise((r) => setTimeout(r, 20));
    expect(closes[0]).toMatch(/bad frame length/);
    expect(closes[1]).toBe('VM disconnected');
  });
});

describe('frame batching', () => {
  it('writes the frames sent within one tick as one buffer, in order', () => {
    const writes: Uint8Array[] = [];
    let flush: (() => void) | undefined;
    const s = frameLinkOverBytes((b) => writes.push(b.slice()), () => {}, { schedule: (f) => (flush = f) });
    const frames = [1, 1500, 60].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i + j) & 0xff));
    for (const f of frames) s.link.send(f);
    expect(writes.length).toBe(0);
    flush!();
    expect(writes.length).toBe(1);
    expect(writes[0]!.length).toBe(1561 + 12);
    expect(new FrameDecoder().push(writes[0]!)).toEqual(frames);
    expect(encodeFrames(frames)).toEqual(writes[0]);
  });

  it('flushes early past maxBatchBytes, and before a local close', () => {
    const writes: Uint8Array[] = [];
    const flushes: (() => void)[] = [];
    let closed = '';
    const s = frameLinkOverBytes((b) => writes.push(b), (r) => (closed = r), { schedule: (f) => flushes.push(f), maxBatchBytes: 3000 });
    for (let i = 0; i < 3; i++) s.link.send(new Uint8Array(1400));
    expect(writes.length).toBe(1); // 4200 ≥ 3000: written at once
    s.link.send(new Uint8Array(10));
    s.link.close();
    expect(closed).toBe('closed locally');
    expect(new FrameDecoder().push(writes[1]!).map((f) => f.length)).toEqual([10]);
    for (const f of flushes) f(); // late flushes after close write nothing
    expect(writes.length).toBe(2);
  });

  it('a stack over a real socket: frames of one burst arrive intact', async () => {
    const { l } = await serve({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const s = connect(l.port, '127.0.0.1');
    sockets.push(s);
    expect(await offerThrough(s)).toBe('192.168.127.3');
  });
});
