// An in-memory 9P client for the server tests, built on the project's own codec: it
// encodes T-messages, feeds them to P9Server.connect and decodes every reply, checking
// the framing invariants (one whole message per send, strictly below msize) as it goes.
import {
  P9Server,
  decodeMessage,
  encodeMessage,
  type Message,
  type MessageName,
  type P9Connection,
  type P9FileSystem,
  type P9ServerOptions,
  type RMessage,
  type TMessage,
} from '../../p9/index.js';

type DOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type Req = DOmit<TMessage, 'tag'> & { tag?: number };
type RName = Extract<MessageName, `R${string}`>;

/** Invariant violations seen by any client; test files assert it stays empty. */
const problems: string[] = [];
export function takeProblems(): string[] {
  return problems.splice(0);
}

export class Client {
  readonly conn: P9Connection;
  /** Every reply, in arrival order. */
  readonly replies: RMessage[] = [];
  closed: string | undefined;
  /** Sends that happened after end(): must stay 0. */
  lateSends = 0;
  ended = false;
  msize: number;
  private readonly waiters = new Map<number, (m: RMessage) => void>();
  private nextTag = 1;

  constructor(readonly server: P9Server, maxMsize = 4 * 1024 * 1024 + 24) {
    this.msize = maxMsize;
    this.conn = server.connect(
      (bytes) => this.onReply(bytes),
      (reason) => {
        this.closed = reason;
      },
    );
  }

  // Runs inside the server's send(), which swallows exceptions: record, never throw.
  private onReply(bytes: Uint8Array): void {
    if (this.ended || this.closed !== undefined) this.lateSends++;
    const d = decodeMessage(bytes);
    if (!d.ok) return void problems.push(`server sent an undecodable reply: ${d.reason}`);
    if (bytes.length >= this.msize) problems.push(`${d.msg.type} of ${bytes.length} bytes, msize ${this.msize}`);
    const m = d.msg as RMessage;
    if (m.type === 'Rversion') this.msize = Math.min(this.msize, m.msize);
    this.replies.push(m);
    const w = this.waiters.get(m.tag);
    if (w) {
      this.waiters.delete(m.tag);
      w(m);
    }
  }

  tag(): number {
    const t = this.nextTag;
    this.nextTag = (this.nextTag % 0xfffe) + 1;
    return t;
  }

  /** Encode and send without waiting. */
  send(req: Req): number {
    const tag = req.tag ?? this.tag();
    this.conn.receive(encodeMessage({ ...req, tag } as Message));
    return tag;
  }

  /** Resolves with the reply carrying `tag` (registered before sending so sync replies are caught). */
  reply(tag: number): Promise<RMessage> {
    return new Promise((resolve) => this.waiters.set(tag, resolve));
  }

  rpc(req: Req): Promise<RMessage> {
    const tag = req.tag ?? this.tag();
    const p = this.reply(tag);
    this.send({ ...req, tag } as Req);
    return p;
  }

  /** The reply, which must be of type `want`. */
  async call<N extends RName>(req: Req, want: N): Promise<Message<N>> {
    const r = await this.rpc(req);
    if (r.type !== want) throw new Error(`${req.type}: wanted ${want}, got ${JSON.stringify(r, big)}`);
    return r as Message<N>;
  }

  /** The errno of the reply, which must be Rlerror. */
  async err(req: Req): Promise<number> {
    const r = await this.rpc(req);
    if (r.type !== 'Rlerror') throw new Error(`${req.type}: wanted Rlerror, got ${JSON.stringify(r, big)}`);
    return r.ecode;
  }

  async version(msize = 1024 * 1024, version = '9P2000.L'): Promise<Message<'Rversion'>> {
    return this.call({ type: 'Tversion', tag: 0xffff, msize, version }, 'Rversion');
  }

  async attach(fid = 0): Promise<Message<'Rattach'>> {
    return this.call({ type: 'Tattach', fid, afid: 0xffffffff, uname: 'root', aname: '', nUname: 0 }, 'Rattach');
  }

  walk(fid: number, newfid: number, path: string): Promise<RMessage> {
    const wnames = path.split('/').filter((s) => s !== '');
    return this.rpc({ type: 'Twalk', fid, newfid, wnames });
  }

  /** Walk to `path` from fid 0 (which must be the attach root) into `newfid`. */
  async open(newfid: number, path: string): Promise<void> {
    const r = await this.walk(0, newfid, path);
    if (r.type !== 'Rwalk' || r.qids.length !== path.split('/').filter(Boolean).length) throw new Error(`walk ${path} failed`);
    await this.call({ type: 'Tlopen', fid: newfid, flags: 0 }, 'Rlopen');
  }

  end(): void {
    this.ended = true;
    this.conn.end();
  }
}

/** A connected client: version negotiated, fid 0 attached to the root. */
export async function session(fs: P9FileSystem, opts: P9ServerOptions = {}, msize = 1024 * 1024): Promise<Client> {
  const c = new Client(new P9Server(fs, opts));
  await c.version(msize);
  await c.attach(0);
  return c;
}

export function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** Lets pending promise callbacks (and a macrotask) run. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Wraps a filesystem so reads wait until the test releases them. */
export function gatedFs<N extends object>(fs: P9FileSystem<N>): {
  fs: P9FileSystem<N>;
  pending: { offset: number; release: () => void; fail: (e: unknown) => void }[];
} {
  const pending: { offset: number; release: () => void; fail: (e: unknown) => void }[] = [];
  const gated: P9FileSystem<N> = Object.create(fs) as P9FileSystem<N>;
  gated.read = (node, offset, count) =>
    new Promise<Uint8Array>((resolve, reject) => {
      pending.push({
        offset,
        release: () => void Promise.resolve(fs.read(node, offset, count)).then(resolve, reject),
        fail: reject,
      });
    });
  return { fs: gated, pending };
}
