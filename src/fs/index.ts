// Public entry of the merged-tree module: layers in, a read-only inode tree out.

export { MemoryStore, DEFAULT_SEGMENT_SIZE, type ContentStore } from './store.js';
export { normalisePath, joinPath } from './paths.js';
export { readTar, parseTime, type TarEntry, type TarEntryType, type TarVisitor, type ByteSource } from './tar.js';
export {
  Tree,
  InoAllocator,
  DIR_SIZE,
  type Inode,
  type InodeInit,
  type FileType,
  type Timespec,
  type TreeOptions,
  type ApplyOptions,
} from './tree.js';
export { buildRouteTree, type RouteFiles } from './route.js';
export { parsePasswd, parseGroup, resolveUser, type PasswdEntry, type GroupEntry, type ExecUser } from './passwd.js';
export {
  generateRuntimeSpec,
  buildSpec,
  DEFAULT_PATH,
  DEFAULT_CAPABILITIES,
  type RuntimeSpec,
} from './runtime-spec.js';
export { treeFileSystem } from './p9-tree.js';
