// One client connection: reassembles frames from any chunking, enforces the framing
// limits, tracks in-flight tags (flush, out-of-order completion) and guarantees that
// every reply stays strictly below msize. Nothing thrown here reaches the transport.

import { Errno, P9Error } from './errno.js';
import type { P9FileSystem } from './fs.js';
import { HEADER_SIZE, decodeMessage, encodeMessage, type Message, type RMessage, type TMessage } from './messages.js';
import { Session } from './session.js';

export interface P9Logger {
  debug?(message: string): void;
  warn?(message: string): void;
}

export interface P9Connection {
  /** Bytes from the client, any chunking (a message may be split across calls or several may arrive in one). Never throws. */
  receive(bytes: Uint8Array): void;
  /** The transport closed: drop fids, abandon in-flight replies. */
  end(): void;
}

/** Linux refuses msize below 4 KiB; below that not even a small Rreaddir fits. */
export const MIN_MSIZE = 4096;
const VERSION = '9P2000.L';

interface Pending {
  abandoned: boolean;
}

export class Connection implements P9Connection {
  private readonly session: Session;
  private readonly inflight = new Map<number, Pending>();
  private buf = new Uint8Array(0);
  private len = 0;
  private closed = false;
  /** Chunks that arrived re-entrantly (a send callback feeding bytes back), kept in order. */
  private queued: Uint8Array[] | undefined;

  constructor(
    fs: P9FileSystem,
    private readonly maxMsize: number,
    private readonly logger: P9Logger,
    private readonly sendFn: (bytes: Uint8Array) => void,
    private readonly closeFn: (reason: string) => void,
  ) {
    this.session = new Session(fs);
  }

  receive(bytes: Uint8Array): void {
    if (this.queued) {
      this.queued.push(bytes.slice());
      return;
    }
    this.queued = [];
    try {
      this.ingest(bytes);
      for (let next = this.queued.shift(); next; next = this.queued.shift()) this.ingest(next);
    } catch (e) {
      this.logger.warn?.(`9p: internal error: ${describe(e)}`);
      this.fail('internal error');
    } finally {
      this.queued = undefined;
    }
  }

  end(): void {
    this.shutdown();
  }

  /** Frame limit: the negotiated msize, or our own maximum until Tversion succeeded. */
  private get limit(): number {
    return this.session.msize || this.maxMsize;
  }

  private ingest(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    // Parse straight from the caller's chunk when nothing is buffered (the common case);
    // only an incomplete tail is copied, since the caller may reuse its buffer.
    const direct = this.len === 0;
    if (!direct) this.append(bytes);
    const src = direct ? bytes : this.buf.subarray(0, this.len);
    const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    let off = 0;
    while (!this.closed && src.length - off >= 4) {
      const size = view.getUint32(off, true);
      if (size < HEADER_SIZE || size > this.limit) {
        // The stream cannot be resynchronised once a size field is wrong.
        return this.fail(`message size ${size} outside [${HEADER_SIZE}, ${this.limit}]`);
      }
      if (src.length - off < size) break;
      this.frame(src.subarray(off, off + size));
      off += size;
    }
    if (this.closed) return;
    if (direct) {
      this.len = 0;
      this.append(src.subarray(off));
    } else {
      this.buf.copyWithin(0, off, this.len);
      this.len -= off;
    }
  }

  private append(bytes: Uint8Array): void {
    if (this.len + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.len + bytes.length, this.buf.length * 2, 256));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private frame(frame: Uint8Array): void {
    const d = decodeMessage(frame);
    if (!d.ok) {
      this.logger.debug?.(`9p: tag ${d.tag}: ${d.reason}`);
      return this.reply({ type: 'Rlerror', tag: d.tag, ecode: d.errno });
    }
    const m = d.msg;
    this.logger.debug?.(`9p: ${m.type} tag ${m.tag}`);
    if (m.type === 'Tversion') return this.version(m);
    if (!this.session.msize) return this.reply({ type: 'Rlerror', tag: m.tag, ecode: Errno.EPROTO });
    if (m.type === 'Tflush') return this.flush(m);
    // A tag still in flight cannot name a second request; answering the newcomer keeps
    // "every request gets a reply" without touching the first one.
    if (this.inflight.has(m.tag)) return this.reply({ type: 'Rlerror', tag: m.tag, ecode: Errno.EINVAL });
    if (m.type[0] !== 'T') return this.reply({ type: 'Rlerror', tag: m.tag, ecode: Errno.EOPNOTSUPP });
    let result: RMessage | Promise<RMessage>;
    try {
      result = this.session.handle(m as TMessage);
    } catch (e) {
      return this.reply(this.errorReply(m, e));
    }
    if (!(result instanceof Promise)) return this.reply(result);
    const pending: Pending = { abandoned: false };
    this.inflight.set(m.tag, pending);
    result
      .catch((e: unknown) => this.errorReply(m, e))
      .then((r) => {
        if (pending.abandoned || this.closed) return;
        this.inflight.delete(m.tag);
        this.reply(r);
      })
      .catch((e: unknown) => this.logger.warn?.(`9p: internal error: ${describe(e)}`));
  }

  private version(m: Message<'Tversion'>): void {
    // A new session: earlier fids and replies no longer mean anything.
    this.abandonAll();
    this.session.reset();
    if (m.msize < MIN_MSIZE) return this.reply({ type: 'Rlerror', tag: m.tag, ecode: Errno.EINVAL });
    const msize = Math.min(m.msize, this.maxMsize);
    const ok = m.version === VERSION || m.version.startsWith(VERSION + '.');
    this.reply({ type: 'Rversion', tag: m.tag, msize, version: ok ? VERSION : 'unknown' });
    if (ok) this.session.msize = msize;
  }

  /** The flushed request is dropped if still pending, so its reply can never follow Rflush. */
  private flush(m: Message<'Tflush'>): void {
    const p = this.inflight.get(m.oldtag);
    if (p) {
      p.abandoned = true;
      this.inflight.delete(m.oldtag);
    }
    this.reply({ type: 'Rflush', tag: m.tag });
  }

  private errorReply(m: Message, e: unknown): RMessage {
    if (e instanceof P9Error) return { type: 'Rlerror', tag: m.tag, ecode: e.errno };
    this.logger.warn?.(`9p: ${m.type} failed: ${describe(e)}`);
    return { type: 'Rlerror', tag: m.tag, ecode: Errno.EIO };
  }

  private reply(r: RMessage): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(r);
    } catch (e) {
      this.logger.warn?.(`9p: cannot encode ${r.type}: ${describe(e)}`);
      bytes = encodeMessage({ type: 'Rlerror', tag: r.tag, ecode: Errno.EIO });
    }
    // Linux drops the connection on a reply of msize bytes or more.
    if (bytes.length >= this.limit) bytes = encodeMessage({ type: 'Rlerror', tag: r.tag, ecode: Errno.EMSGSIZE });
    try {
      this.sendFn(bytes);
    } catch (e) {
      this.logger.warn?.(`9p: send failed: ${describe(e)}`);
    }
  }

  private abandonAll(): void {
    for (const p of this.inflight.values()) p.abandoned = true;
    this.inflight.clear();
  }

  private shutdown(): void {
    this.closed = true;
    this.abandonAll();
    this.session.reset();
    this.buf = new Uint8Array(0);
    this.len = 0;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.logger.warn?.(`9p: closing connection: ${reason}`);
    this.shutdown();
    try {
      this.closeFn(reason);
    } catch (e) {
      this.logger.warn?.(`9p: close callback failed: ${describe(e)}`);
    }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
