// Pull progress on stderr: a single self-overwriting status line when stderr is a
// terminal, nothing otherwise (so logs and pipes stay clean).
import type { BlobProgress } from '../../oci/index.js';

export interface Progress {
  onProgress(p: BlobProgress): void;
  note(message: string): void;
  /** Always printed, terminal or not. */
  say(message: string): void;
  done(): void;
}

const REDRAW_MS = 100;

/**
 * `notes`: whether warnings (retries, skipped credential helpers) are printed; off for
 * scripts so that a failure leaves exactly one line on stderr.
 */
export function createProgress(stream: NodeJS.WriteStream, opts: { notes: boolean }): Progress {
  const tty = stream.isTTY === true;
  const blobs = new Map<string, BlobProgress>();
  let lastDraw = 0;
  let shown = false;

  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  const draw = () => {
    let loaded = 0;
    let total = 0;
    for (const b of blobs.values()) {
      loaded += b.loaded;
      total += b.total;
    }
    const done = [...blobs.values()].filter((b) => b.loaded >= b.total).length;
    const width = 30;
    const filled = total > 0 ? Math.min(width, Math.round((loaded / total) * width)) : 0;
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const line = `pulling [${bar}] ${mb(loaded)}/${mb(total)} MB  blobs ${done}/${blobs.size}`;
    stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 80) - 1)}`);
    shown = true;
  };

  return {
    onProgress(p) {
      if (!tty) return;
      blobs.set(p.digest, p);
      const now = Date.now();
      if (now - lastDraw >= REDRAW_MS || p.loaded >= p.total) {
        lastDraw = now;
        draw();
      }
    },
    note(message) {
      if (opts.notes) this.say(message);
    },
    say(message) {
      clear();
      stream.write(`imagemounter: ${message}\n`);
    },
    done() {
      clear();
    },
  };
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
