// The receive side's sequence space for one TCP connection: what we expect next, the
// window we offer (RFC 7323 scaling, receiver silly-window avoidance) and which segments
// fall inside it (RFC 9293 §3.10.7.4).

import type { TcpTuning } from './tcp-api.js';
import { FIN, seqAdd, seqDiff, seqGt, seqLe, seqLt, segmentLength, type TcpSegment } from './tcp.js';

export class ReceiveWindow {
  /** The next sequence number we expect (RCV.NXT). */
  nxt: number;
  /** The right edge of the window we last offered; RFC 9293 forbids moving it back. */
  private rightEdge: number;
  private readonly shift: number;
  /** Bytes we hold for the application at most; a peer without window scaling caps it at 64 KiB. */
  readonly capacity: number;
  /** Our window scale option for the SYN-ACK: offered only when the peer offered it (RFC 7323 §2.2). */
  readonly wscaleOption: number | undefined;

  constructor(
    private readonly tuning: TcpTuning,
    syn: TcpSegment,
  ) {
    const scaled = syn.wscale !== undefined;
    let shift = 0;
    while (scaled && shift < 14 && 65535 * 2 ** shift < tuning.receiveBuffer) shift++;
    this.shift = shift;
    this.wscaleOption = scaled ? shift : undefined;
    this.capacity = scaled ? tuning.receiveBuffer : Math.min(tuning.receiveBuffer, 65535);
    this.nxt = seqAdd(syn.seq, 1);
    this.rightEdge = this.nxt;
  }

  get right(): number {
    return this.rightEdge;
  }

  acceptable(seg: TcpSegment): boolean {
    const len = segmentLength(seg);
    const wnd = Math.max(0, seqDiff(this.rightEdge, this.nxt));
    const inWindow = (s: number) => seqLe(this.nxt, s) && seqLt(s, seqAdd(this.nxt, wnd));
    if (len === 0) return wnd === 0 ? seg.seq === this.nxt : inWindow(seg.seq) || seg.seq === this.nxt;
    return wnd > 0 && (inWindow(seg.seq) || inWindow(seqAdd(seg.seq, len - 1)));
  }

  /**
   * Cuts `seg` to the window: drops what we already have and what lies past the right
   * edge (losing its FIN with it). `seq` may still lie beyond `nxt`, past a hole.
   */
  trim(seg: TcpSegment): { seq: number; data: Uint8Array; fin: boolean } {
    let seq = seg.seq;
    let data = seg.payload;
    let fin = (seg.flags & FIN) !== 0;
    if (seqLt(seq, this.nxt)) {
      const cut = seqDiff(this.nxt, seq);
      if (cut > data.length) {
        data = data.subarray(data.length);
        fin = false;
      } else data = data.subarray(cut);
      seq = this.nxt;
    }
    const room = Math.max(0, seqDiff(this.rightEdge, seq));
    if (data.length > room) {
      data = data.subarray(0, room);
      fin = false;
    }
    return { seq, data, fin };
  }

  /** The (unscaled) window of the SYN-ACK, which opens the window. */
  synWindow(): number {
    const window = Math.min(65535, this.capacity);
    this.rightEdge = seqAdd(this.nxt, window);
    return window;
  }

  /**
   * The window field for our next segment, with `held` bytes still waiting for the
   * application; moves the advertised right edge, never back.
   */
  field(held: number): number {
    const mss = this.tuning.mss;
    let free = Math.max(0, this.capacity - held);
    // Receiver SWS avoidance: do not offer slivers while the application lags.
    if (free < mss && free < this.capacity / 2) free = 0;
    let wnd = Math.min(65535, Math.floor(free / 2 ** this.shift));
    const promised = Math.ceil(Math.max(0, seqDiff(this.rightEdge, this.nxt)) / 2 ** this.shift);
    if (wnd < promised) wnd = Math.min(65535, promised);
    const right = seqAdd(this.nxt, wnd * 2 ** this.shift);
    if (seqGt(right, this.rightEdge)) this.rightEdge = right;
    return wnd;
  }
}
