// Public entry of the 9P2000.L server: the codec, the filesystem interface and the server.

export { P9Server, DEFAULT_MAX_MSIZE, type P9ServerOptions } from './server.js';
export { MIN_MSIZE, type P9Connection, type P9Logger } from './connection.js';
export { V9FS_MAGIC, type P9FileSystem, type P9Node, type P9Attr, type P9Time, type P9FileType, type P9DirEntry, type P9StatFs } from './fs.js';
export { Errno, P9Error } from './errno.js';
export {
  decodeMessage,
  encodeMessage,
  typeNumber,
  MESSAGE_TYPES,
  NOTAG,
  NOFID,
  HEADER_SIZE,
  WireError,
  type Message,
  type MessageName,
  type TMessage,
  type RMessage,
  type Qid,
  type DecodeResult,
} from './messages.js';
export { decodeDirents, type Dirent } from './dirent.js';
export { encodeDev, qidOf, IOHDRSZ, MAX_WALK } from './session.js';
