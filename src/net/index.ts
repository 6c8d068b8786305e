// The virtual network: one public entry. Protocol code only; transports live in
// src/transport/ and hand frames to NetStack.receive / take them from NetStack.send.

export { NetStack, NETWORK, type NetStackOptions } from './stack.js';
export type { TcpConnection, TcpTuning } from './tcp-connection.js';
export { systemClock, type Clock, type Logger } from './clock.js';
export { FrameDecoder, encodeFrame, MAX_FRAME } from './framing.js';
export { PcapWriter } from './pcap.js';
export { frameLinkOverBytes, type FrameLink, type ByteStreamLink } from './link.js';

import type { NetStack } from './stack.js';
import type { FrameLink } from './link.js';

/** Wires a stack to a link both ways; returns a function that unwires and closes both. */
export function attachLink(stack: NetStack, link: FrameLink, onClose?: (reason: string) => void): () => void {
  stack.send = (frame) => link.send(frame);
  link.onFrame = (frame) => stack.receive(frame);
  link.onClose = (reason) => {
    stack.close();
    onClose?.(reason);
  };
  return () => {
    link.close();
    stack.close();
  };
}
