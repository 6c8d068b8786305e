// The seam between the protocol stack and whatever carries frames. Transports move
// bytes (Node sockets, SharedArrayBuffer rings, WebSockets); this adapter turns a QEMU-
// framed byte stream into a FrameLink, mirroring the P9Server.connect shape.

import { encodeFrame, FrameDecoder } from './framing.js';

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

/**
 * Frames over a byte stream. `write` sends bytes to the VM; `close` tears the transport
 * down (called on a corrupt stream or link.close()).
 */
export function frameLinkOverBytes(write: (bytes: Uint8Array) => void, close: (reason: string) => void): ByteStreamLink {
  const decoder = new FrameDecoder();
  let closed = false;
  const finish = (reason: string, tearDown: boolean) => {
    if (closed) return;
    closed = true;
    if (tearDown) close(reason);
    link.onClose(reason);
  };
  const link: FrameLink = {
    send: (frame) => {
      if (!closed) write(encodeFrame(frame));
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
