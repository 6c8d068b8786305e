// Every 9P2000.L message, plus the 9P2000/9P2000.u ones a Linux client may still send,
// as one schema table read by a symmetric encoder and decoder: a message's layout is
// written once, so encode(decode(x)) cannot drift from decode(encode(m)).
// Pure: no I/O. decodeMessage never throws; encodeMessage throws WireError only for
// values the wire cannot carry (a string over 65535 bytes, a u32 out of range).

import { Errno } from './errno.js';
import { Reader, WireError, Writer, encodeUtf8 } from './wire.js';

export { WireError } from './wire.js';

export interface Qid {
  /** QTDIR 0x80, QTSYMLINK 0x02, QTFILE 0. */
  type: number;
  version: number;
  path: bigint;
}

type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 's' | 'qid' | 'qids' | 'strs' | 'data' | 'stat';
interface KindValue {
  u8: number;
  u16: number;
  u32: number;
  u64: bigint;
  s: string;
  qid: Qid;
  /** u16 count, then that many qids. */
  qids: Qid[];
  /** u16 count, then that many strings. */
  strs: string[];
  /** u32 count, then bytes (Rread, Twrite, Rreaddir). */
  data: Uint8Array;
  /** u16 count, then bytes: a 9P2000 stat structure, kept opaque (we never serve one). */
  stat: Uint8Array;
}
type Field = readonly [string, Kind];

const QID = ['qid', 'qid'] as const;
const FID = ['fid', 'u32'] as const;
const QIOU = [QID, ['iounit', 'u32']] as const;
const TIME = (p: string) => [[`${p}Sec`, 'u64'], [`${p}Nsec`, 'u64']] as const;

const SCHEMA = {
  Rlerror: [7, [['ecode', 'u32']]],
  Tstatfs: [8, [FID]],
  Rstatfs: [9, [['fsType', 'u32'], ['bsize', 'u32'], ['blocks', 'u64'], ['bfree', 'u64'], ['bavail', 'u64'], ['files', 'u64'], ['ffree', 'u64'], ['fsid', 'u64'], ['namelen', 'u32']]],
  Tlopen: [12, [FID, ['flags', 'u32']]],
  Rlopen: [13, QIOU],
  Tlcreate: [14, [FID, ['name', 's'], ['flags', 'u32'], ['mode', 'u32'], ['gid', 'u32']]],
  Rlcreate: [15, QIOU],
  Tsymlink: [16, [FID, ['name', 's'], ['symtgt', 's'], ['gid', 'u32']]],
  Rsymlink: [17, [QID]],
  Tmknod: [18, [['dfid', 'u32'], ['name', 's'], ['mode', 'u32'], ['major', 'u32'], ['minor', 'u32'], ['gid', 'u32']]],
  Rmknod: [19, [QID]],
  Trename: [20, [FID, ['dfid', 'u32'], ['name', 's']]],
  Rrename: [21, []],
  Treadlink: [22, [FID]],
  Rreadlink: [23, [['target', 's']]],
  Tgetattr: [24, [FID, ['requestMask', 'u64']]],
  Rgetattr: [25, [['valid', 'u64'], QID, ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['nlink', 'u64'], ['rdev', 'u64'], ['size', 'u64'], ['blksize', 'u64'], ['blocks', 'u64'], ...TIME('atime'), ...TIME('mtime'), ...TIME('ctime'), ...TIME('btime'), ['gen', 'u64'], ['dataVersion', 'u64']]],
  Tsetattr: [26, [FID, ['valid', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['size', 'u64'], ...TIME('atime'), ...TIME('mtime')]],
  Rsetattr: [27, []],
  Txattrwalk: [30, [FID, ['newfid', 'u32'], ['name', 's']]],
  Rxattrwalk: [31, [['size', 'u64']]],
  Txattrcreate: [32, [FID, ['name', 's'], ['attrSize', 'u64'], ['flags', 'u32']]],
  Rxattrcreate: [33, []],
  Treaddir: [40, [FID, ['offset', 'u64'], ['count', 'u32']]],
  Rreaddir: [41, [['data', 'data']]],
  Tfsync: [50, [FID, ['datasync', 'u32']]],
  Rfsync: [51, []],
  Tlock: [52, [FID, ['lockType', 'u8'], ['flags', 'u32'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 's']]],
  Rlock: [53, [['status', 'u8']]],
  Tgetlock: [54, [FID, ['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 's']]],
  Rgetlock: [55, [['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 's']]],
  Tlink: [70, [['dfid', 'u32'], FID, ['name', 's']]],
  Rlink: [71, []],
  Tmkdir: [72, [['dfid', 'u32'], ['name', 's'], ['mode', 'u32'], ['gid', 'u32']]],
  Rmkdir: [73, [QID]],
  Trenameat: [74, [['olddirfid', 'u32'], ['oldname', 's'], ['newdirfid', 'u32'], ['newname', 's']]],
  Rrenameat: [75, []],
  Tunlinkat: [76, [['dirfid', 'u32'], ['name', 's'], ['flags', 'u32']]],
  Runlinkat: [77, []],
  Tversion: [100, [['msize', 'u32'], ['version', 's']]],
  Rversion: [101, [['msize', 'u32'], ['version', 's']]],
  Tauth: [102, [['afid', 'u32'], ['uname', 's'], ['aname', 's'], ['nUname', 'u32']]],
  Rauth: [103, [['aqid', 'qid']]],
  Tattach: [104, [FID, ['afid', 'u32'], ['uname', 's'], ['aname', 's'], ['nUname', 'u32']]],
  Rattach: [105, [QID]],
  Rerror: [107, [['ename', 's'], ['errno', 'u32']]],
  Tflush: [108, [['oldtag', 'u16']]],
  Rflush: [109, []],
  Twalk: [110, [FID, ['newfid', 'u32'], ['wnames', 'strs']]],
  Rwalk: [111, [['qids', 'qids']]],
  Topen: [112, [FID, ['mode', 'u8']]],
  Ropen: [113, QIOU],
  Tcreate: [114, [FID, ['name', 's'], ['perm', 'u32'], ['mode', 'u8'], ['extension', 's']]],
  Rcreate: [115, QIOU],
  Tread: [116, [FID, ['offset', 'u64'], ['count', 'u32']]],
  Rread: [117, [['data', 'data']]],
  Twrite: [118, [FID, ['offset', 'u64'], ['data', 'data']]],
  Rwrite: [119, [['count', 'u32']]],
  Tclunk: [120, [FID]],
  Rclunk: [121, []],
  Tremove: [122, [FID]],
  Rremove: [123, []],
  Tstat: [124, [FID]],
  Rstat: [125, [['stat', 'stat']]],
  Twstat: [126, [FID, ['stat', 'stat']]],
  Rwstat: [127, []],
} as const satisfies Record<string, readonly [number, readonly Field[]]>;

type Schema = typeof SCHEMA;
export type MessageName = keyof Schema;
type Fields<F extends readonly Field[]> = { -readonly [E in F[number] as E[0]]: KindValue[E[1]] };
/** One decoded message; `Message<'Tread'>` narrows to one type. */
export type Message<N extends MessageName = MessageName> = N extends MessageName
  ? { type: N; tag: number } & Fields<Schema[N][1]>
  : never;
export type TMessage = Message<Extract<MessageName, `T${string}`>>;
export type RMessage = Message<Extract<MessageName, `R${string}`>>;

export const MESSAGE_TYPES: readonly MessageName[] = Object.keys(SCHEMA) as MessageName[];
export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;
/** size[4] type[1] tag[2]. */
export const HEADER_SIZE = 7;
/** Rread/Rreaddir header: size[4] type[1] tag[2] count[4]. */
export const RDATA_HEADER = 11;

const BY_NUMBER = new Map<number, MessageName>();
for (const name of MESSAGE_TYPES) BY_NUMBER.set(SCHEMA[name][0], name);

export function typeNumber(name: MessageName): number {
  return SCHEMA[name][0];
}

export type DecodeResult =
  | { ok: true; msg: Message }
  | { ok: false; type: number; tag: number; errno: number; reason: string };

/**
 * Decode one whole frame (starting at its size[4]). Bytes fields are views into `frame`.
 * Bytes after the last field are ignored, as newer kernels have appended fields before
 * (Tfsync's datasync); everything short of the layout is EPROTO, an unknown type EOPNOTSUPP.
 */
export function decodeMessage(frame: Uint8Array): DecodeResult {
  if (frame.length < HEADER_SIZE) return { ok: false, type: -1, tag: NOTAG, errno: Errno.EPROTO, reason: `frame of ${frame.length} bytes` };
  const r = new Reader(frame);
  const size = r.u32();
  const type = r.u8();
  const tag = r.u16();
  if (size !== frame.length) return { ok: false, type, tag, errno: Errno.EPROTO, reason: `size field ${size}, frame ${frame.length}` };
  const name = BY_NUMBER.get(type);
  if (!name) return { ok: false, type, tag, errno: Errno.EOPNOTSUPP, reason: `unknown message type ${type}` };
  const msg: Record<string, unknown> = { type: name, tag };
  try {
    for (const [key, kind] of SCHEMA[name][1]) msg[key] = readKind(r, kind);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { ok: false, type, tag, errno: Errno.EPROTO, reason: `${name}: ${e.message}` };
  }
  return { ok: true, msg: msg as Message };
}

function readKind(r: Reader, kind: Kind): unknown {
  switch (kind) {
    case 'u8': return r.u8();
    case 'u16': return r.u16();
    case 'u32': return r.u32();
    case 'u64': return r.u64();
    case 's': return r.str();
    case 'qid': return readQid(r);
    case 'qids': {
      const n = r.u16();
      if (n * 13 > r.remaining) throw new WireError(`${n} qids overrun the message`);
      return Array.from({ length: n }, () => readQid(r));
    }
    case 'strs': {
      const n = r.u16();
      if (n * 2 > r.remaining) throw new WireError(`${n} strings overrun the message`);
      return Array.from({ length: n }, () => r.str());
    }
    case 'data': return r.bytesOf(r.u32());
    case 'stat': return r.bytesOf(r.u16());
  }
}

function readQid(r: Reader): Qid {
  return { type: r.u8(), version: r.u32(), path: r.u64() };
}

/** Encode one message into a fresh buffer that the caller owns. */
export function encodeMessage(msg: Message): Uint8Array {
  const entry = SCHEMA[msg.type] as readonly [number, readonly Field[]] | undefined;
  if (!entry) throw new WireError(`cannot encode message type ${String(msg.type)}`);
  const fields = entry[1];
  const values = msg as unknown as Record<string, unknown>;
  // Sizing pass; strings are UTF-8 encoded once here and reused by the writing pass.
  const strings: Uint8Array[] = [];
  let size = HEADER_SIZE;
  for (const [key, kind] of fields) size += sizeKind(kind, values[key], key, strings);
  const w = new Writer(new Uint8Array(size));
  w.u32(size);
  w.u8(entry[0]);
  w.u16(checkInt(msg.tag, 0xffff, 'tag'));
  let si = 0;
  for (const [key, kind] of fields) {
    const v = values[key];
    switch (kind) {
      case 'u8': w.u8(v as number); break;
      case 'u16': w.u16(v as number); break;
      case 'u32': w.u32(v as number); break;
      case 'u64': w.u64(v as bigint); break;
      case 's': w.str(strings[si++]!); break;
      case 'qid': writeQid(w, v as Qid); break;
      case 'qids': w.u16((v as Qid[]).length); for (const q of v as Qid[]) writeQid(w, q); break;
      case 'strs': w.u16((v as string[]).length); for (let i = 0; i < (v as string[]).length; i++) w.str(strings[si++]!); break;
      case 'data': w.u32((v as Uint8Array).length); w.raw(v as Uint8Array); break;
      case 'stat': w.u16((v as Uint8Array).length); w.raw(v as Uint8Array); break;
    }
  }
  return w.bytes;
}

function sizeKind(kind: Kind, v: unknown, key: string, strings: Uint8Array[]): number {
  const str = (s: unknown) => {
    if (typeof s !== 'string') throw new WireError(`${key}: not a string`);
    const b = encodeUtf8(s);
    checkInt(b.length, 0xffff, `${key} length`);
    strings.push(b);
    return 2 + b.length;
  };
  switch (kind) {
    case 'u8': return checkInt(v, 0xff, key), 1;
    case 'u16': return checkInt(v, 0xffff, key), 2;
    case 'u32': return checkInt(v, 0xffffffff, key), 4;
    case 'u64': if (typeof v !== 'bigint') throw new WireError(`${key}: not a bigint`); return 8;
    case 's': return str(v);
    case 'qid': return checkQid(v, key), 13;
    case 'qids': return (checkArray(v, key) as unknown[]).reduce<number>((n, q) => (checkQid(q, key), n + 13), 2);
    case 'strs': return (checkArray(v, key) as unknown[]).reduce<number>((n, s) => n + str(s), 2);
    case 'data': return 4 + checkInt(checkBytes(v, key).length, 0xffffffff, key);
    case 'stat': return 2 + checkInt(checkBytes(v, key).length, 0xffff, key);
  }
}

function writeQid(w: Writer, q: Qid): void {
  w.u8(q.type);
  w.u32(q.version);
  w.u64(q.path);
}

function checkInt(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new WireError(`${what}: ${String(v)} is not an integer in [0, ${max}]`);
  return v;
}
function checkQid(q: unknown, what: string): void {
  const x = q as Qid | undefined;
  if (typeof x !== 'object' || x === null || typeof x.path !== 'bigint') throw new WireError(`${what}: not a qid`);
  checkInt(x.type, 0xff, `${what}.type`);
  checkInt(x.version, 0xffffffff, `${what}.version`);
}
function checkArray(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v) || v.length > 0xffff) throw new WireError(`${what}: not an array of at most 65535`);
  return v;
}
function checkBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WireError(`${what}: not a Uint8Array`);
  return v;
}
