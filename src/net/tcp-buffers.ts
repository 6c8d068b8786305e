// Byte queues for one TCP connection: what we still owe the peer (until ACKed), the
// out-of-order segments waiting for a hole to fill, and in-order data the application
// has paused.

import { seqAdd, seqDiff, seqGt, seqLe } from './tcp.js';

/** Unacknowledged + unsent data as a list of chunks; offset 0 is the oldest unacked byte. */
export class SendQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private headOffset = 0;
  length = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Drops `n` acknowledged bytes from the front. */
  consume(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const chunk = this.chunks[this.head]!;
      const left = chunk.length - this.headOffset;
      if (n < left) {
        this.headOffset += n;
        return;
      }
      n -= left;
      this.head++;
      this.headOffset = 0;
    }
    // Compact now and then so the array does not grow with everything ever sent.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Copies `len` bytes starting `offset` bytes past the front into dst[dstOffset…]. */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOffset: number): void {
    let i = this.head;
    let skip = offset + this.headOffset;
    while (len > 0 && i < this.chunks.length) {
      const chunk = this.chunks[i++]!;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const n = Math.min(len, chunk.length - skip);
      dst.set(chunk.subarray(skip, skip + n), dstOffset);
      dstOffset += n;
      len -= n;
      skip = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.length = 0;
  }
}

interface Pending {
  seq: number;
  data: Uint8Array;
  fin: boolean;
}

/** Segments received beyond a hole, kept in sequence order without overlap. */
export class OutOfOrderQueue {
  private items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Stores data (copied: the frame it came in is not ours to keep) starting at `seq`. */
  insert(seq: number, data: Uint8Array, fin: boolean): void {
    // Trim against what is already held so stored ranges never overlap.
    let start = seq;
    let bytes = data;
    for (const it of this.items) {
      const itEnd = seqAdd(it.seq, it.data.length);
      const end = seqAdd(start, bytes.length);
      if (seqLe(it.seq, start) && seqGt(itEnd, start)) {
        const cut = Math.min(bytes.length, seqDiff(itEnd, start));
        bytes = bytes.subarray(cut);
        start = seqAdd(start, cut);
      } else if (seqGt(it.seq, start) && seqGt(end, it.seq)) {
        // Overlaps the start of a later item: keep only the part before it (the rest is held).
        bytes = bytes.subarray(0, seqDiff(it.seq, start));
        fin = false;
        break;
      }
    }
    if (bytes.length === 0 && !fin) return;
    const item = { seq: start, data: bytes.slice(), fin };
    let at = this.items.findIndex((it) => seqGt(it.seq, start));
    if (at < 0) at = this.items.length;
    this.items.splice(at, 0, item);
  }

  /**
   * Removes and returns what now continues the stream at `next`, in order; stale items
   * (entirely before `next`) are discarded.
   */
  take(next: number): { data: Uint8Array[]; fin: boolean; end: number } {
    const data: Uint8Array[] = [];
    let fin = false;
    while (this.items.length > 0) {
      const it = this.items[0]!;
      const end = seqAdd(it.seq, it.data.length);
      if (seqGt(it.seq, next)) break;
      this.items.shift();
      if (seqLe(end, next) && !(it.fin && end === next)) continue;
      const skip = seqDiff(next, it.seq);
      if (skip < it.data.length) data.push(it.data.subarray(skip));
      next = end;
      if (it.fin) {
        fin = true;
        break;
      }
    }
    return { data, fin, end: next };
  }

  clear(): void {
    this.items = [];
  }
}

/** In-order data received while the application does not take any; it shrinks our window. */
export class HeldData {
  private chunks: Uint8Array[] = [];
  private head = 0;
  bytes = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.bytes += bytes.length;
  }

  /** Removes and returns the oldest chunk. */
  shift(): Uint8Array | undefined {
    if (this.head === this.chunks.length) return undefined;
    const b = this.chunks[this.head]!;
    // Drop our reference now: a long pause must not pin what the application already has.
    this.chunks[this.head++] = EMPTY;
    this.bytes -= b.length;
    if (this.head === this.chunks.length) this.clear();
    return b;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.bytes = 0;
  }
}

const EMPTY = new Uint8Array(0);
