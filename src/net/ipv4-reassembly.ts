// Reassembly of fragmented IPv4 datagrams from the VM (RFC 791 §3.2, RFC 815 style hole
// tracking by sorting). Memory is bounded: a few datagrams at a time, 64 KiB each, and
// entries expire lazily when newer fragments arrive, so no timers are needed.

import type { Ipv4Packet } from './ipv4.js';

const MAX_DATAGRAM = 65535 - 20;
const MAX_FRAGMENTS = 64;

interface Fragment {
  start: number;
  data: Uint8Array;
}

interface Entry {
  created: number;
  fragments: Fragment[];
  bytes: number;
  /** Known once the fragment without MF arrives. */
  total: number;
}

export class Ipv4Reassembler {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number,
    private readonly maxDatagrams = 16,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Returns the complete payload when `p` finishes a datagram, else null. */
  add(p: Ipv4Packet): Uint8Array | null {
    this.expire();
    const key = `${p.src}/${p.dst}/${p.protocol}/${p.id}`;
    const end = p.fragmentOffset + p.payload.length;
    // Non-final fragments must be multiples of 8 bytes; anything else is malformed.
    if (end > MAX_DATAGRAM || (p.moreFragments && (p.payload.length & 7) !== 0) || p.payload.length === 0) {
      this.entries.delete(key);
      return null;
    }
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.maxDatagrams) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      entry = { created: this.now(), fragments: [], bytes: 0, total: -1 };
      this.entries.set(key, entry);
    }
    if (!p.moreFragments) {
      if (entry.total >= 0 && entry.total !== end) return this.drop(key);
      entry.total = end;
    }
    if (entry.fragments.length >= MAX_FRAGMENTS) return this.drop(key);
    // Copy: the frame buffer belongs to the caller and the datagram outlives this call.
    entry.fragments.push({ start: p.fragmentOffset, data: p.payload.slice() });
    entry.bytes += p.payload.length;
    if (entry.total < 0) return null;
    entry.fragments.sort((a, b) => a.start - b.start);
    let covered = 0;
    for (const f of entry.fragments) {
      if (f.start > covered) return null; // a hole remains
      covered = Math.max(covered, f.start + f.data.length);
    }
    if (covered < entry.total) return null;
    const out = new Uint8Array(entry.total);
    for (const f of entry.fragments) out.set(f.data.subarray(0, Math.max(0, entry.total - f.start)), f.start);
    this.entries.delete(key);
    return out;
  }

  get pending(): number {
    return this.entries.size;
  }

  private drop(key: string): null {
    this.entries.delete(key);
    return null;
  }

  private expire(): void {
    const limit = this.now() - this.timeoutMs;
    for (const [key, e] of this.entries) if (e.created < limit) this.entries.delete(key);
  }
}
