// Transports only move bytes between a peer and the protocol cores. These are the Node
// ones: VMs' frame streams and native 9P clients over TCP or Unix sockets.
export { listenSockets, parseListenSpec, type Listener, type ListenSpec } from './node-listen.js';
export { listenFrames, type FrameListener, type FrameListenSpec } from './node-socket.js';
export { listen9p } from './node-9p.js';
