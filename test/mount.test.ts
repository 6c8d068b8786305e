// mountImage: one mounted tree, one NetStack per attached byte link (or ring pair).
import { beforeAll, describe, expect, it } from 'vitest';
import type { FixtureSet } from '../fixtures/generate.js';
import { createRingBuffers, mountImage, vmRingEndpoint, type MountedImageSession } from '../src/index.js';
import { buildDhcp, DISCOVER, OFFER, parseDhcp } from '../src/net/dhcp.js';
import { encodeFrame, FrameDecoder } from '../src/net/framing.js';
import { ipToString } from '../src/net/ipv4.js';
import { createNodeFetch } from '../src/node/index.js';
import { getFixtures } from './helpers/fixtures.js';
import { BCAST_MAC, decode, udpFrame, VM_MAC } from './net/helpers.js';

const discover = (xid: number) =>
  udpFrame(0, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []), {
    srcMac: VM_MAC,
    dstMac: BCAST_MAC,
  });

function offerOf(frames: Uint8Array[]) {
  expect(frames.length).toBe(1);
  const d = decode(frames[0]!);
  expect(d.udp).toMatchObject({ srcPort: 67, dstPort: 68 });
  return parseDhcp(d.udp!.payload)!;
}

/** An in-memory transport: what the stack writes, decoded into frames. */
function memoryTransport() {
  const decoder = new FrameDecoder();
  const frames: Uint8Array[] = [];
  const t = {
    writes: 0,
    closed: 0,
    frames,
    write(bytes: Uint8Array) {
      t.writes++;
      frames.push(...decoder.push(bytes));
    },
    close() {
      t.closed++;
    },
  };
  return t;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

let fx: FixtureSet;
beforeAll(async () => {
  fx = await getFixtures();
});

describe('mountImage', () => {
  let session: MountedImageSession;
  const layers: number[] = [];
  let progress = 0;

  beforeAll(async () => {
    session = await mountImage({
      image: fx.small.dir,
      fetch: createNodeFetch(),
      onLayer: (l) => layers.push(l.index),
      onProgress: () => progress++,
    });
  });

  it('mounts the image and forwards pull events', () => {
    expect(session.mounted.image.configDigest).toBe(fx.small.configDigest);
    expect(session.mounted.tree.lookup('/config/config.json')).toBeDefined();
    expect(layers).toEqual(session.mounted.image.layers.map((_, i) => i));
    expect(progress).toBeGreaterThan(0);
  });

  it('attach(): a QEMU-framed DHCP DISCOVER over an in-memory link gets an OFFER of .3', async () => {
    const t = memoryTransport();
    const link = session.attach(t);
    // Split mid-frame on purpose: the link reassembles the byte stream.
    const bytes = encodeFrame(discover(0x4242));
    link.receive(bytes.subarray(0, 7));
    link.receive(bytes.subarray(7));
    await tick();
    const offer = offerOf(t.frames);
    expect(offer.type).toBe(OFFER);
    expect(offer.xid).toBe(0x4242);
    expect(ipToString(offer.yiaddr)).toBe('192.168.127.3');
    link.close();
    expect(t.closed).toBe(1);
  });

  it('each attach is its own stack: both links are leased .3; end() and close() detach them', async () => {
    const a = memoryTransport();
    const b = memoryTransport();
    const closes: string[] = [];
    const la = session.attach(a, { onClose: (r) => closes.push(`a:${r}`) });
    const lb = session.attach(b, { onClose: (r) => closes.push(`b:${r}`) });
    expect(la.stack).not.toBe(lb.stack);
    expect(session.links).toBe(2);
    la.receive(encodeFrame(discover(1)));
    lb.receive(encodeFrame(discover(2)));
    await tick();
    expect(ipToString(offerOf(a.frames).yiaddr)).toBe('192.168.127.3');
    expect(ipToString(offerOf(b.frames).yiaddr)).toBe('192.168.127.3');
    la.end('EOF');
    expect(session.links).toBe(1);
    expect(a.closed).toBe(0); // the transport ended itself: not closed again
    expect(closes).toEqual(['a:EOF']);
    lb.receive(new Uint8Array([0, 0, 0, 0])); // a zero-length frame: corrupt stream
    expect(b.closed).toBe(1);
    expect(session.links).toBe(0);
  });

  it('attachRings(): DISCOVER sent by the VM end of the rings comes back as an OFFER', async () => {
    const rings = createRingBuffers();
    const vm = vmRingEndpoint(rings);
    const attached = session.attachRings(rings);
    expect(vm.send(encodeFrame(discover(7)))).toBe(true);
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    const deadline = Date.now() + 5000;
    while (frames.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      frames.push(...decoder.push(vm.receive()));
    }
    const offer = offerOf(frames);
    expect(offer.xid).toBe(7);
    expect(attached.stats.bytesIn).toBeGreaterThan(0);
    attached.close();
  });

  it('close() closes every attached link and refuses new ones', () => {
    const ts = [memoryTransport(), memoryTransport(), memoryTransport()];
    for (const t of ts) session.attach(t);
    expect(session.links).toBe(3);
    session.close();
    expect(ts.map((t) => t.closed)).toEqual([1, 1, 1]);
    expect(session.links).toBe(0);
    expect(() => session.attach(memoryTransport())).toThrow(/closed/);
  });
});
