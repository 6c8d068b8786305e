// The TOC ("stargz.index.json") of an eStargz / zstd:chunked layer, as the reference Go
// implementation writes it (format facts: ../shared/fixtures/estargz/README.md).

export const TOC_TAR_NAME = 'stargz.index.json';
export const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
export const UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size';
/** zstd:chunked: sha256 of the compressed TOC frame. */
export const ZSTD_MANIFEST_CHECKSUM_ANNOTATION = 'io.containers.zstd-chunked.manifest-checksum';
/** zstd:chunked: `offset:compressedLength:uncompressedLength:1` of the TOC frame. */
export const ZSTD_MANIFEST_POSITION_ANNOTATION = 'io.containers.zstd-chunked.manifest-position';
export const PREFETCH_LANDMARK = '.prefetch.landmark';
export const NO_PREFETCH_LANDMARK = '.no.prefetch.landmark';
/** A landmark file's whole content. */
export const LANDMARK_CONTENT = 0x0f;

export type TocEntryType = 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'chunk';

/** One TOC entry; every field but name/type is omitted by the writer when zero or empty. */
export interface TocEntry {
  name: string;
  type: TocEntryType;
  size?: number;
  /** RFC 3339, whole seconds, UTC. */
  modtime?: string;
  linkName?: string;
  /** Permission bits incl. setuid/setgid/sticky, decimal; no file-type bits. */
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  /** Blob offset of the gzip member / zstd frame where this file's or chunk's data starts. */
  offset?: number;
  devMajor?: number;
  devMinor?: number;
  /** xattr name → base64 of the value bytes. */
  xattrs?: Record<string, string>;
  /** sha256 of the whole file (reg). */
  digest?: string;
  chunkOffset?: number;
  /** Absent on a last, shorter chunk and on unchunked files: "to the end of the file". */
  chunkSize?: number;
  chunkDigest?: string;
}

export interface Toc {
  version: number;
  entries: TocEntry[];
}
