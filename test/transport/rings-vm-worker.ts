// Worker entry for rings.test.ts (bundled with esbuild, run by worker_threads): plays
// c2w's VM worker. Sends `frames` QEMU-framed frames of random sizes into toNet, reads
// the echoed stream back from fromNet, checks it byte for byte and reports checksums.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameDecoder, encodeFrame } from '../../src/net/framing.js';
import { vmRingEndpoint, type RingBuffers } from '../../src/transport/rings.js';

interface Job {
  rings: RingBuffers;
  frames: number;
  seed: number;
  maxFrame: number;
}

const job = workerData as Job;
const vm = vmRingEndpoint(job.rings);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(sleeper, 0, 0, ms);

let x = job.seed >>> 0;
const rand = () => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x;
};

/** FNV-1a over a stream of chunks. */
class Fnv {
  h = 0x811c9dc5;
  bytes = 0;
  add(b: Uint8Array) {
    let h = this.h;
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
    this.h = h;
    this.bytes += b.length;
  }
}

const sentSum = new Fnv();
const recvSum = new Fnv();
const pending: Uint8Array[] = []; // frames sent, echo not yet seen
const decoder = new FrameDecoder();
let sent = 0;
let echoed = 0;
let mismatches = 0;
let sendRefusals = 0;

function drain(): number {
  const bytes = vm.receive();
  if (bytes.length === 0) return 0;
  recvSum.add(bytes);
  for (const frame of decoder.push(bytes)) {
    const want = pending.shift();
    if (!want || want.length !== frame.length || want.some((v, i) => v !== frame[i])) mismatches++;
    echoed++;
  }
  return bytes.length;
}

let next: Uint8Array | undefined;
const deadline = Date.now() + 60_000;
while ((sent < job.frames || echoed < job.frames) && Date.now() < deadline) {
  if (sent < job.frames) {
    if (!next) {
      const size = 1 + (rand() % job.maxFrame);
      const f = new Uint8Array(size);
      for (let i = 0; i < size; i++) f[i] = rand() & 0xff;
      next = f;
    }
    const framed = encodeFrame(next);
    if (vm.send(framed)) {
      sentSum.add(framed);
      pending.push(next);
      next = undefined;
      sent++;
      // Read only now and then, so fromNet fills up and the stack has to back off.
      if (sent % 1000 === 0) drain();
      continue;
    }
    sendRefusals++;
  }
  if (drain() === 0) sleep(1);
}

parentPort!.postMessage({ sent, echoed, mismatches, sendRefusals, sentSum: sentSum.h, sentBytes: sentSum.bytes, recvSum: recvSum.h, recvBytes: recvSum.bytes, leftover: decoder.pendingBytes });
