// The TCP demultiplexer: finds the connection for a segment, opens connections for SYNs
// to listening ports and answers everything else with a RST (RFC 9293 §3.10.7.1).

import type { Clock, Logger } from './clock.js';
import { DEFAULT_TUNING, type TcpTuning } from './tcp-api.js';
import { Connection, type ConnectionEnv } from './tcp-connection.js';
import type { SendQueue } from './tcp-buffers.js';
import { ACK, RST, SYN, seqAdd, segmentLength, type TcpHeaderFields, type TcpSegment } from './tcp.js';
import { ipToString } from './ipv4.js';

export interface TcpEndpointOptions {
  clock: Clock;
  logger: Logger;
  tuning?: Partial<TcpTuning>;
  /** Initial sequence numbers; unpredictable by default. */
  random?: () => number;
  maxConnections?: number;
  listening(localIp: number, localPort: number): boolean;
  onConnection(conn: Connection): void;
  /** Sends a segment from localIp to remoteIp; data is queue[offset, offset+length). */
  emit(localIp: number, remoteIp: number, f: TcpHeaderFields, queue: SendQueue | null, offset: number, length: number): void;
}

export class TcpEndpoint {
  private readonly conns = new Map<string, Connection>();
  private readonly env: ConnectionEnv;
  private readonly random: () => number;

  constructor(private readonly opts: TcpEndpointOptions) {
    this.random = opts.random ?? defaultRandom;
    this.env = {
      clock: opts.clock,
      logger: opts.logger,
      tuning: { ...DEFAULT_TUNING, ...opts.tuning },
      emit: (c, f, q, off, len) => opts.emit(c.localIp, c.remoteIp, f, q, off, len),
      established: (c) => {
        opts.logger.info?.(`TCP: ${c.remote} connected to ${ipToString(c.localIp)}:${c.localPort}`);
        opts.onConnection(c);
      },
      gone: (c) => {
        const key = keyOf(c.localIp, c.localPort, c.remoteIp, c.remotePort);
        if (this.conns.get(key) === c) this.conns.delete(key);
      },
    };
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  receive(localIp: number, remoteIp: number, seg: TcpSegment): void {
    const key = keyOf(localIp, seg.dstPort, remoteIp, seg.srcPort);
    const existing = this.conns.get(key);
    const isSyn = (seg.flags & (SYN | ACK | RST)) === SYN;
    if (existing) {
      // A new SYN on a TIME_WAIT tuple is the client reusing its port: start afresh.
      if (!(isSyn && existing.state === 'TIME_WAIT')) return existing.onSegment(seg);
      existing.destroy('port reused');
      this.conns.delete(key);
    }
    if (!this.opts.listening(localIp, seg.dstPort)) return this.reset(localIp, remoteIp, seg);
    if (seg.flags & RST) return;
    if (!isSyn) return this.reset(localIp, remoteIp, seg);
    if (this.conns.size >= (this.opts.maxConnections ?? 1024)) {
      this.opts.logger.warn?.(`TCP: too many connections, refusing ${ipToString(remoteIp)}:${seg.srcPort}`);
      return this.reset(localIp, remoteIp, seg);
    }
    const remote = `${ipToString(remoteIp)}:${seg.srcPort}`;
    const conn = new Connection(this.env, localIp, seg.dstPort, remoteIp, seg.srcPort, remote, seg, this.random() >>> 0);
    this.conns.set(key, conn);
    conn.open();
  }

  closeAll(reason: string): void {
    for (const c of [...this.conns.values()]) c.destroy(reason);
    this.conns.clear();
  }

  private reset(localIp: number, remoteIp: number, seg: TcpSegment): void {
    if (seg.flags & RST) return; // never answer a RST
    const base = { srcPort: seg.dstPort, dstPort: seg.srcPort, window: 0 };
    const f: TcpHeaderFields =
      seg.flags & ACK
        ? { ...base, seq: seg.ack, ack: 0, flags: RST }
        : { ...base, seq: 0, ack: seqAdd(seg.seq, segmentLength(seg)), flags: RST | ACK };
    this.opts.emit(localIp, remoteIp, f, null, 0, 0);
  }
}

function keyOf(localIp: number, localPort: number, remoteIp: number, remotePort: number): string {
  return `${remoteIp}:${remotePort}>${localIp}:${localPort}`;
}

function defaultRandom(): number {
  const c = (globalThis as { crypto?: { getRandomValues(a: Uint32Array): Uint32Array } }).crypto;
  if (c) return c.getRandomValues(new Uint32Array(1))[0]!;
  return Math.floor(Math.random() * 0x100000000);
}
