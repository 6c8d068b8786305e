// The 9P2000.L server: one read-only filesystem, any number of client connections.

import { Connection, MIN_MSIZE, type P9Connection, type P9Logger } from './connection.js';
import type { P9FileSystem } from './fs.js';

/** 4 MiB of payload per Tread/Rread (iounit = msize - 24) plus the 24-byte I/O header. */
export const DEFAULT_MAX_MSIZE = 4 * 1024 * 1024 + 24;

export interface P9ServerOptions {
  /**
   * Largest msize the server agrees to (default DEFAULT_MAX_MSIZE = 4 MiB + 24; at least
   * MIN_MSIZE = 4096). The negotiated msize is min(client's, this); Linux over TCP asks
   * for at most 1 MiB anyway. Every reply is kept strictly below the negotiated msize.
   */
  maxMsize?: number;
  logger?: P9Logger;
}

export class P9Server {
  private readonly maxMsize: number;
  private readonly logger: P9Logger;

  constructor(
    private readonly fs: P9FileSystem,
    opts: P9ServerOptions = {},
  ) {
    const max = opts.maxMsize ?? DEFAULT_MAX_MSIZE;
    if (!Number.isInteger(max) || max < MIN_MSIZE || max > 0xffffffff) {
      throw new RangeError(`maxMsize must be an integer in [${MIN_MSIZE}, 2^32-1], got ${max}`);
    }
    this.maxMsize = max;
    this.logger = opts.logger ?? {};
  }

  /**
   * One client connection over any byte stream. `send` receives whole encoded replies
   * (each one Uint8Array, not reused by the server after send); `close` is called when the
   * server decides to drop the connection (framing violation).
   */
  connect(send: (bytes: Uint8Array) => void, close: (reason: string) => void): P9Connection {
    return new Connection(this.fs, this.maxMsize, this.logger, send, close);
  }
}
