// The "QEMU protocol" frame stream (`-netdev socket`, `-netdev stream`, gvisor-tap-vsock,
// c2w `--net=socket`): each Ethernet frame is preceded by its length as a 4-byte
// big-endian integer. The decoder is pure: bytes in any chunking → whole frames.

/** Larger than any frame a 1500-MTU guest sends (even jumbo 9000 fits), far below nonsense. */
export const MAX_FRAME = 16384;

export class FrameDecoder {
  /** Set once the stream is corrupt; a length-prefixed stream cannot resync, so drop the link. */
  error: string | undefined;
  private readonly header = new Uint8Array(4);
  private headerFill = 0;
  private frame: Uint8Array | null = null;
  private frameFill = 0;

  constructor(private readonly maxFrame = MAX_FRAME) {}

  /** Returns the frames completed by `chunk` (each a fresh buffer the caller owns). */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length && this.error === undefined) {
      if (this.frame === null) {
        const n = Math.min(4 - this.headerFill, chunk.length - i);
        this.header.set(chunk.subarray(i, i + n), this.headerFill);
        this.headerFill += n;
        i += n;
        if (this.headerFill < 4) break;
        this.headerFill = 0;
        const len = new DataView(this.header.buffer).getUint32(0);
        if (len === 0 || len > this.maxFrame) {
          this.error = `bad frame length ${len} (expected 1..${this.maxFrame})`;
          break;
        }
        this.frame = new Uint8Array(len);
        this.frameFill = 0;
      }
      const n = Math.min(this.frame.length - this.frameFill, chunk.length - i);
      this.frame.set(chunk.subarray(i, i + n), this.frameFill);
      this.frameFill += n;
      i += n;
      if (this.frameFill === this.frame.length) {
        out.push(this.frame);
        this.frame = null;
      }
    }
    return out;
  }

  /** Bytes of an unfinished frame (or header) held; non-zero at EOF means a truncated stream. */
  get pendingBytes(): number {
    return this.frame ? 4 + this.frameFill : this.headerFill;
  }
}

export function encodeFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/**
 * Encodes a batch of frames into one buffer (one allocation and one write for the batch
 * instead of one of each per frame). `bytes` is the sum of the frames' lengths, if known.
 */
export function encodeFrames(frames: readonly Uint8Array[], bytes = frames.reduce((n, f) => n + f.length, 0)): Uint8Array {
  const out = new Uint8Array(4 * frames.length + bytes);
  let o = 0;
  for (const f of frames) {
    const n = f.length;
    out[o] = n >>> 24;
    out[o + 1] = (n >>> 16) & 0xff;
    out[o + 2] = (n >>> 8) & 0xff;
    out[o + 3] = n & 0xff;
    out.set(f, o + 4);
    o += 4 + n;
  }
  return out;
}
