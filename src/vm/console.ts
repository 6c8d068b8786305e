// The host's side of the guest's serial console (markers: see init-script.ts). Boot and
// set-up output is kept aside (shown on failure or when asked); after START the bytes
// are the container's and pass through, minus the EXIT marker. Isomorphic, no I/O.
import { MARK } from './init-script.js';

export type ConsolePhase = 'boot' | 'setup' | 'running' | 'done';

export interface ConsoleEvents {
  /** The guest waits for the settings line (the moment to snapshot a cold boot). */
  onReady(): void;
  /** The container is starting. */
  onStart?(): void;
  /** The container's output. */
  onOutput(bytes: Uint8Array): void;
  onExit(status: number): void;
  /** The guest could not set up (no DHCP lease, mount failed, …); `log` is what it printed. */
  onError(message: string, log: string): void;
  /** Every byte before START, as it comes (for --debug). */
  onBootOutput?(bytes: Uint8Array): void;
}

const PREFIX = '@@IMAGEMOUNTER-';
/** Set-up output kept for error reports: the end of it is what matters. */
const KEEP_LOG = 64 << 10;

/** Bytes ↔ latin1 strings: one char per byte, so markers are found without decoding UTF-8. */
function toLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class GuestConsole {
  phase: ConsolePhase = 'boot';
  /** Output before the container started (boot, DHCP, mount), trimmed to its last 64 KiB. */
  log = '';
  private pending = '';
  /** After a marker: its line end (CR LF with onlcr, LF without) is not output, even when it comes in a later chunk. */
  private lineEnd: 'none' | 'cr-or-lf' | 'lf' = 'none';

  constructor(private readonly events: ConsoleEvents) {}

  /** Serial output of the guest, in any chunking. */
  push(bytes: Uint8Array): void {
    if (this.phase === 'done' || bytes.length === 0) return;
    if (this.phase !== 'running') this.events.onBootOutput?.(bytes);
    this.pending += toLatin1(bytes);
    this.eatLineEnd();
    this.scan();
  }

  private scan(): void {
    while (this.pending && this.phase !== 'done') {
      const at = this.pending.indexOf(PREFIX);
      if (at < 0) {
        // Hold back a tail that may be the start of a marker split across chunks.
        let keep = Math.min(PREFIX.length - 1, this.pending.length);
        while (keep > 0 && !PREFIX.startsWith(this.pending.slice(-keep))) keep--;
        this.emit(this.pending.slice(0, this.pending.length - keep));
        this.pending = this.pending.slice(this.pending.length - keep);
        return;
      }
      const end = this.pending.indexOf(MARK.end, at + PREFIX.length);
      if (end < 0) {
        // An unfinished marker: wait for its end, unless it is not one (too long).
        this.emit(this.pending.slice(0, at));
        this.pending = this.pending.slice(at);
        if (this.pending.length > 4096) {
          this.emit(this.pending.slice(0, PREFIX.length));
          this.pending = this.pending.slice(PREFIX.length);
          continue;
        }
        return;
      }
      this.emit(this.pending.slice(0, at));
      const marker = this.pending.slice(at, end + MARK.end.length);
      this.pending = this.pending.slice(end + MARK.end.length);
      this.lineEnd = 'cr-or-lf';
      this.eatLineEnd();
      this.marker(marker);
    }
  }

  private eatLineEnd(): void {
    if (this.lineEnd === 'cr-or-lf' && this.pending.startsWith('\r')) {
      this.pending = this.pending.slice(1);
      this.lineEnd = 'lf';
    }
    if (this.lineEnd !== 'none' && this.pending.startsWith('\n')) {
      this.pending = this.pending.slice(1);
      this.lineEnd = 'none';
    }
    if (this.pending) this.lineEnd = 'none';
  }

  private marker(m: string): void {
    if (m === MARK.ready && this.phase === 'boot') {
      this.phase = 'setup';
      this.events.onReady();
    } else if (m === MARK.start && this.phase === 'setup') {
      this.phase = 'running';
      this.events.onStart?.();
    } else if (m.startsWith(MARK.exitPrefix) && this.phase === 'running') {
      this.phase = 'done';
      this.events.onExit(Number(m.slice(MARK.exitPrefix.length, -MARK.end.length)));
    } else if (m.startsWith(MARK.errorPrefix) && this.phase !== 'running') {
      this.phase = 'done';
      this.events.onError(new TextDecoder().decode(fromLatin1(m.slice(MARK.errorPrefix.length, -MARK.end.length))), this.log);
    } else {
      this.emit(m); // not ours at this point: the container printed it
    }
  }

  private emit(s: string): void {
    if (!s) return;
    if (this.phase === 'running') this.events.onOutput(fromLatin1(s));
    else this.log = (this.log + s).slice(-KEEP_LOG);
  }
}
