// The seam between the protocol stack and whatever carries frames. Transports move
// bytes (Node sockets, SharedArrayBuffer rings, WebSockets); this adapter turns a QEMU-
// framed byte stream into a FrameLink, mirroring the P9Server.connect shape.

import { encodeFrame, encodeFrames, FrameDecoder } from './framing.js';

export interface FrameLink {
  /** A frame to the VM. */
  send(frame: Uint8Array): void;
  /** Set by the user: a frame from the VM. */
  onFrame: (frame: Uint8Array) => void;
  /** Set by the user: the link is gone (EOF, error, corrupt stream). */
  onClose: (reason: string) => void;
  close(): void;
}

export interface ByteStreamLink {
  link: FrameLink;
  /** Feed bytes read from the transport. */
  receive(bytes: Uint8Array): void;
  /** The transport ended. */
  end(reason?: string): void;
}

export interface ByteStreamOptions {
  /**
   * Batching: when set, frames sent in a row are held (the link keeps references to them:
   * the stack hands over fresh buffers) and written as one buffer when `schedule`d flush
   * runs, e.g. from process.nextTick. Without it every frame is written at once.
   */
  schedule?: (flush: () => void) => void;
  /** Flush early once this many bytes are pending. */
  maxBatchBytes?: number;
}

/**
 * Frames over a byte stream. `write` sends bytes to the VM; `close` tears the transport
 * down (called on a corrupt stream or link.close()).
 */
export function frameLinkOverBytes(write: (bytes: Uint8Array) => void, close: (reason: string) => void, opts: ByteStreamOptions = {}): ByteStreamLink {
  const decoder = new FrameDecoder();
  let closed = false;
  const schedule = opts.schedule;
  const maxBatch = opts.maxBatchBytes ?? 256 * 1024;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const frames = pending;
    const bytes = pendingBytes;
    pending = [];
    pendingBytes = 0;
    if (!closed) write(frames.length === 1 ? encodeFrame(frames[0]!) : encodeFrames(frames, bytes));
  };
  const finish = (reason: string, tearDown: boolean) => {
    if (closed) return;
    if (tearDown) flush(); // what the stack sent before closing still goes out
    closed = true;
    pending = [];
    if (tearDown) close(reason);
    link.onClose(reason);
  };
  const link: FrameLink = {
    send: (frame) => {
      if (closed) return;
      if (!schedule) return write(encodeFrame(frame));
      pending.push(frame);
      pendingBytes += frame.length;
      if (pendingBytes >= maxBatch) flush();
      else if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    onFrame: () => {},
    onClose: () => {},
    close: () => finish('closed locally', true),
  };
  return {
    link,
    receive(bytes) {
      if (closed) return;
      for (const frame of decoder.push(bytes)) {
        link.onFrame(frame);
        if (closed) return;
      }
      if (decoder.error !== undefined) finish(decoder.error, true);
    },
    end(reason = 'link closed') {
      finish(decoder.pendingBytes ? `${reason} (mid-frame)` : reason, false);
    },
  };
}
