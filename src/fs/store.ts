// File contents live as byte ranges of the decompressed layer data. Keeping them in a few
// large fixed-size segments (rather than one buffer per file) keeps allocation count low
// and lets the 9P read path hand out views without copying; never growing one giant
// buffer avoids repeated reallocation and the engines' ArrayBuffer size limits.

export interface ContentStore {
  /** Append bytes (copied; the caller may reuse its buffer); returns the offset they start at. */
  append(bytes: Uint8Array): number;
  /** Bytes [offset, offset+length) — a view when they lie in one segment, else a copy. */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  readonly size: number;
}

export const DEFAULT_SEGMENT_SIZE = 4 * 1024 * 1024;

export class MemoryStore implements ContentStore {
  readonly segmentSize: number;
  private readonly segments: Uint8Array[] = [];
  private total = 0;

  constructor(opts: { segmentSize?: number } = {}) {
    const size = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`bad segment size ${size}`);
    this.segmentSize = size;
  }

  get size(): number {
    return this.total;
  }

  append(bytes: Uint8Array): number {
    const start = this.total;
    let src = 0;
    while (src < bytes.length) {
      const seg = this.total % this.segmentSize;
      // Segments are allocated only when the first byte lands in them, so an empty
      // store (or the config files of the route tree) costs nothing up front.
      if (seg === 0) this.segments.push(new Uint8Array(this.segmentSize));
      const dst = this.segments[this.segments.length - 1]!;
      const n = Math.min(bytes.length - src, this.segmentSize - seg);
      dst.set(bytes.subarray(src, src + n), seg);
      src += n;
      this.total += n;
    }
    return start;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.total) {
      throw new RangeError(`read [${offset}, ${offset + length}) outside store of ${this.total} bytes`);
    }
    if (length === 0) return new Uint8Array(0);
    const first = Math.floor(offset / this.segmentSize);
    const at = offset % this.segmentSize;
    if (at + length <= this.segmentSize) return this.segments[first]!.subarray(at, at + length);
    const out = new Uint8Array(length);
    let done = 0;
    for (let i = first; done < length; i++) {
      const from = i === first ? at : 0;
      const n = Math.min(length - done, this.segmentSize - from);
      out.set(this.segments[i]!.subarray(from, from + n), done);
      done += n;
    }
    return out;
  }
}
