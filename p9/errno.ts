// Linux errno values. 9P2000.L's Rlerror carries them verbatim and the kernel's v9fs
// hands them straight to the caller, so they must be Linux's numbers, not the host's.

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENODATA: 61,
  EPROTO: 71,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
} as const;

/** Thrown by filesystems (and the server's handlers) to answer a request with Rlerror `errno`. */
export class P9Error extends Error {
  readonly errno: number;
  constructor(errno: number, message?: string) {
    super(message ?? `errno ${errno}`);
    this.name = 'P9Error';
    this.errno = errno;
  }
}
