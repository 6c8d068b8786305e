// Little-endian cursor over one 9P message. Every read is bounds-checked against the
// message end, so a count or string length that runs past it raises WireError, which the
// codec turns into a defined outcome; nothing else may escape.

export class WireError extends Error {
  override name = 'WireError';
}

const utf8 = new TextDecoder('utf-8'); // non-fatal: names with bad bytes still decode
const utf8e = new TextEncoder();

export class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  private need(n: number): number {
    if (n > this.remaining) throw new WireError(`needs ${n} bytes at ${this.pos}, message has ${this.remaining} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }
  /** A view, not a copy: callers that keep it past the current message must copy. */
  bytesOf(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  str(): string {
    return utf8.decode(this.bytesOf(this.u16()));
  }
}

/** Writes into a buffer sized up front by the codec's sizing pass. */
export class Writer {
  private readonly view: DataView;
  pos = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: bigint): void {
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }
  /** `s` already UTF-8 encoded (the sizing pass needed its length anyway). */
  str(s: Uint8Array): void {
    this.u16(s.length);
    this.raw(s);
  }
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8e.encode(s);
}
