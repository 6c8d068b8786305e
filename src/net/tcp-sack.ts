// The SACK scoreboard of one TCP connection (RFC 2018, RFC 6675): which ranges above
// SND.UNA the peer says it holds, and from that which holes count as lost.

import { seqDiff, seqGe, seqGt, seqLe, seqLt, type SackBlock } from './tcp.js';

/** RFC 6675 DupThresh. */
export const DUP_THRESH = 3;

export class SackScoreboard {
  /** Disjoint SACKed ranges [start, end), in sequence order, all above SND.UNA. */
  private blocks: SackBlock[] = [];
  /** Sum of the ranges' lengths. */
  sackedBytes = 0;

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** The highest SACKed sequence number + 1 (HighSACK's end); `una` when nothing is SACKed. */
  highEnd(una: number): number {
    return this.blocks.length ? this.blocks[this.blocks.length - 1]!.end : una;
  }

  /**
   * Merges the blocks of an ACK. Blocks not inside [una, sndMax] (stale, D-SACK or bogus)
   * are ignored. Returns whether any byte not SACKed before is SACKed now.
   */
  update(blocks: readonly SackBlock[] | undefined, una: number, sndMax: number): boolean {
    if (!blocks) return false;
    let grew = false;
    for (const b of blocks) {
      if (!seqLt(b.start, b.end) || seqLt(b.start, una) || seqGt(b.end, sndMax)) continue;
      const before = this.sackedBytes;
      this.add(b.start, b.end);
      if (this.sackedBytes > before) grew = true;
    }
    return grew;
  }

  private add(start: number, end: number): void {
    const bs = this.blocks;
    let i = 0;
    while (i < bs.length && seqLt(bs[i]!.end, start)) i++;
    // bs[i] is the first range that ends at or after `start`: merge everything touching [start, end).
    let j = i;
    while (j < bs.length && seqLe(bs[j]!.start, end)) {
      if (seqLt(bs[j]!.start, start)) start = bs[j]!.start;
      if (seqGt(bs[j]!.end, end)) end = bs[j]!.end;
      this.sackedBytes -= seqDiff(bs[j]!.end, bs[j]!.start);
      j++;
    }
    bs.splice(i, j - i, { start, end });
    this.sackedBytes += seqDiff(end, start);
  }

  /** SND.UNA moved to `una`: forgets what it covers. */
  ackTo(una: number): void {
    const bs = this.blocks;
    let n = 0;
    while (n < bs.length && seqLe(bs[n]!.end, una)) this.sackedBytes -= seqDiff(bs[n]!.end, bs[n++]!.start);
    if (n) bs.splice(0, n);
    const first = bs[0];
    if (first && seqLt(first.start, una)) {
      this.sackedBytes -= seqDiff(una, first.start);
      first.start = una;
    }
  }

  clear(): void {
    this.blocks = [];
    this.sackedBytes = 0;
  }

  isSacked(seq: number): boolean {
    for (const b of this.blocks) {
      if (seqLt(seq, b.start)) return false;
      if (seqLt(seq, b.end)) return true;
    }
    return false;
  }

  /** SACKed bytes within [from, to). */
  sackedIn(from: number, to: number): number {
    let n = 0;
    for (const b of this.blocks) {
      if (seqGe(b.start, to)) break;
      const s = seqGt(b.start, from) ? b.start : from;
      const e = seqLt(b.end, to) ? b.end : to;
      if (seqLt(s, e)) n += seqDiff(e, s);
    }
    return n;
  }

  /**
   * RFC 6675 IsLost as a boundary: every un-SACKed byte below the returned sequence number
   * is lost, because DupThresh discontiguous SACKed ranges or more than (DupThresh − 1)·SMSS
   * SACKed bytes lie above it. `una` when nothing is lost.
   */
  lostEdge(una: number, smss: number): number {
    let bytes = 0;
    for (let i = this.blocks.length - 1, count = 1; i >= 0; i--, count++) {
      const b = this.blocks[i]!;
      bytes += seqDiff(b.end, b.start);
      if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss) return b.start;
    }
    return una;
  }

  /** The first un-SACKed range at or after `from` and below `limit`, or null. */
  nextHole(from: number, limit: number): SackBlock | null {
    for (const b of this.blocks) {
      if (seqLe(b.end, from)) continue;
      if (seqLe(b.start, from)) {
        from = b.end; // inside a SACKed range: the hole starts after it
        continue;
      }
      // b lies wholly above `from`: [from, b.start) is a hole.
      const end = seqLt(b.start, limit) ? b.start : limit;
      return seqLt(from, end) ? { start: from, end } : null;
    }
    return seqLt(from, limit) ? { start: from, end: limit } : null;
  }

  /** Where the next transmission at or after `seq` should start: past any SACKed range holding `seq`. */
  skipSacked(seq: number): number {
    for (const b of this.blocks) {
      if (seqLt(seq, b.start)) break;
      if (seqLt(seq, b.end)) seq = b.end;
    }
    return seq;
  }

  /** Start of the first SACKed range above `seq` (so a segment from `seq` stops before it), else `limit`. */
  nextSackedStart(seq: number, limit: number): number {
    for (const b of this.blocks) if (seqGt(b.start, seq)) return seqLt(b.start, limit) ? b.start : limit;
    return limit;
  }

  /** For tests and logs. */
  ranges(): SackBlock[] {
    return this.blocks.map((b) => ({ ...b }));
  }
}
