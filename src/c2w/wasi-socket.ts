// WASI socket imports for a c2w VM started with `--net=socket=listenfd=<n>`: the VM
// accepts one connection on the listening fd and exchanges its QEMU-framed stream over
// it. browser_wasi_shim has no sockets, so these imports are replaced (the behaviour of
// c2w's wasiHackSocket): the listening fd accepts exactly once, the accepted fd reads and
// writes the rings, and both fds answer fd_fdstat_get / fd_prestat_get so wasi-libc
// treats them as sockets and keeps scanning preopens past them.
import {
  ERRNO_AGAIN,
  ERRNO_INVAL,
  ERRNO_SUCCESS,
  FDFLAGS_NONBLOCK,
  FILETYPE_SOCKET_STREAM,
  RIGHTS_SOCKET,
  ioVecs,
  setU32,
  type MemoryGetter,
  type WasiImports,
} from './wasi-abi.js';
import type { VmSocket } from './vm-socket.js';

export interface SocketPatchOptions {
  memory: MemoryGetter;
  socket: VmSocket;
  /** The fd the VM was told to listen on (c2w: 4). */
  listenFd: number;
  /** The fd sock_accept hands out (c2w: 5; one connection at a time). */
  connFd: number;
  logger?: { warn(message: string): void };
}

export interface SocketPatch {
  /** Whether the VM has accepted its connection (and not shut it down). */
  readonly connected: boolean;
}

/** Replaces the socket imports of `imports` in place and routes connFd's fd_read/fd_write. */
export function patchSocketImports(imports: WasiImports, opts: SocketPatchOptions): SocketPatch {
  const { memory, socket, listenFd, connFd } = opts;
  const warn = (m: string) => opts.logger?.warn(m);
  let connected = false;

  function send(iovsPtr: number, iovsLen: number, nwrittenPtr: number): number {
    if (!connected) return ERRNO_INVAL;
    const mem = memory();
    let total = 0;
    for (const buf of ioVecs(mem, iovsPtr, iovsLen)) {
      socket.send(buf);
      total += buf.length;
    }
    setU32(mem, nwrittenPtr, total);
    return ERRNO_SUCCESS;
  }

  function recv(iovsPtr: number, iovsLen: number, nreadPtr: number): number {
    if (!connected) return ERRNO_INVAL;
    const mem = memory();
    let total = 0;
    for (const buf of ioVecs(mem, iovsPtr, iovsLen)) {
      if (buf.length === 0) continue;
      const n = socket.recvInto(buf);
      total += n;
      if (n < buf.length) break;
    }
    // The socket is non-blocking (fd_fdstat_get says so): nothing yet is EAGAIN, and
    // the VM waits in poll_oneoff.
    if (total === 0) return ERRNO_AGAIN;
    setU32(mem, nreadPtr, total);
    return ERRNO_SUCCESS;
  }

  const orig = { ...imports };
  imports.sock_accept = (fd: number, _flags: number, fdPtr: number) => {
    if (fd !== listenFd) {
      warn(`sock_accept: fd ${fd} is not the listening socket`);
      return ERRNO_INVAL;
    }
    if (connected) {
      warn('sock_accept: the VM already has its connection (one is supported)');
      return ERRNO_INVAL;
    }
    connected = true;
    setU32(memory(), fdPtr, connFd);
    return ERRNO_SUCCESS;
  };
  imports.sock_send = (fd: number, iovsPtr: number, iovsLen: number, _siFlags: number, nwrittenPtr: number) => {
    if (fd !== connFd) {
      warn(`sock_send: fd ${fd} is not the accepted socket`);
      return ERRNO_INVAL;
    }
    return send(iovsPtr, iovsLen, nwrittenPtr);
  };
  imports.sock_recv = (fd: number, iovsPtr: number, iovsLen: number, _riFlags: number, nreadPtr: number, roFlagsPtr: number) => {
    if (fd !== connFd) {
      warn(`sock_recv: fd ${fd} is not the accepted socket`);
      return ERRNO_INVAL;
    }
    const r = recv(iovsPtr, iovsLen, nreadPtr);
    // No flag (truncation) applies to a stream.
    if (r === ERRNO_SUCCESS) new DataView(memory().buffer).setUint16(roFlagsPtr, 0, true);
    return r;
  };
  imports.sock_shutdown = (fd: number) => {
    if (fd === connFd) connected = false;
    return ERRNO_SUCCESS;
  };
  imports.fd_read = (fd: number, iovsPtr: number, iovsLen: number, nreadPtr: number) =>
    fd === connFd ? recv(iovsPtr, iovsLen, nreadPtr) : orig.fd_read!(fd, iovsPtr, iovsLen, nreadPtr);
  imports.fd_write = (fd: number, iovsPtr: number, iovsLen: number, nwrittenPtr: number) =>
    fd === connFd ? send(iovsPtr, iovsLen, nwrittenPtr) : orig.fd_write!(fd, iovsPtr, iovsLen, nwrittenPtr);
  imports.fd_close = (fd: number) => {
    if (fd !== connFd) return orig.fd_close!(fd);
    connected = false;
    return ERRNO_SUCCESS;
  };
  imports.fd_fdstat_get = (fd: number, statPtr: number) => {
    if (fd !== listenFd && !(fd === connFd && connected)) return orig.fd_fdstat_get!(fd, statPtr);
    // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
    // (c2w writes its flags byte at @1, which is padding; the flags word is @2.)
    const dv = new DataView(memory().buffer);
    dv.setUint8(statPtr, FILETYPE_SOCKET_STREAM);
    dv.setUint8(statPtr + 1, 0);
    dv.setUint16(statPtr + 2, FDFLAGS_NONBLOCK, true);
    dv.setBigUint64(statPtr + 8, RIGHTS_SOCKET, true);
    dv.setBigUint64(statPtr + 16, 0n, true);
    return ERRNO_SUCCESS;
  };
  imports.fd_prestat_get = (fd: number, prestatPtr: number) => {
    if (fd !== listenFd && fd !== connFd) return orig.fd_prestat_get!(fd, prestatPtr);
    // wasi-libc scans fds from 3 upwards for preopened directories and stops at the
    // first EBADF; a tag other than 0 (dir) makes it skip the fd and go on, so the
    // fds after the sockets are still found.
    new DataView(memory().buffer).setUint8(prestatPtr, 1);
    return ERRNO_SUCCESS;
  };
  return {
    get connected() {
      return connected;
    },
  };
}
