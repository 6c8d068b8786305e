// eStargz writer: turns a layer tar into an eStargz blob that estargz v0.12.0 (`Open` +
// `VerifyTOC`) reads, laid out like its `Build`: a landmark, every file's data and every
// chunk starting a new gzip member at the TOC `offset`, the TOC member, the 51-byte footer.
// With `compression: 'zstd'` it writes the zstd:chunked flavour of the same library
// (`zstdchunked.Compressor`): zstd frames instead of gzip members, no TOC tar entry and no
// end-of-archive in the stream, the TOC JSON as one zstd frame inside a skippable frame,
// then the 40-byte footer in another skippable frame.
// Format facts: ../shared/fixtures/estargz/README.md. Isomorphic (pako, hash-wasm, @hpcc-js/wasm-zstd).
import { createSHA256, type IHasher } from 'hash-wasm';
import { Deflate } from 'pako';
import { estargzFooter, zstdChunkedFooter, zstdSkippableHeader } from './footer.js';
import {
  LANDMARK_CONTENT, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION, TOC_TAR_NAME, UNCOMPRESSED_SIZE_ANNOTATION,
  ZSTD_MANIFEST_CHECKSUM_ANNOTATION, ZSTD_MANIFEST_POSITION_ANNOTATION, type Toc, type TocEntry,
} from './toc.js';
import { cleanEntryName, sortEntries } from './writer-order.js';
import { concatBytes } from '../oci/index.js';
import { encodeHeader, padding, plainFileHeader, readEntries, type WEntry } from './writer-tar.js';
import { marshalToc, NameTracker, tocEntryOf } from './writer-toc.js';

export interface EstargzWriteOptions {
  /** Bytes per chunk; default 4 MiB (Go's default). */
  chunkSize?: number;
  /** Files to put first (Go's `WithPrioritizedFiles`); makes a `.prefetch.landmark`. Buffers the layer in memory. */
  prioritized?: string[];
  /** gzip level 0-9, default 9 (`gzip.BestCompression`, as Go's `Build`); zstd level 1-22, default 3 (Go's `SpeedDefault`). */
  compressionLevel?: number;
  /** `gzip` (eStargz, default) or `zstd` (zstd:chunked, estargz 0.12 flavour). */
  compression?: 'gzip' | 'zstd';
}

export interface EstargzLayer {
  /** The blob, in order; concatenate (or write out) the chunks. */
  blob: Uint8Array[];
  /** sha256 of the TOC JSON: annotation `containerd.io/snapshot/stargz/toc.digest`. */
  tocDigest: string;
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Length of the uncompressed tar stream: annotation `io.containers.estargz.uncompressed-size`. */
  uncompressedSize: number;
  /** sha256 of the blob. */
  digest: string;
  size: number;
  /** Prioritized names not found in the tar (Go ignores them too). */
  missedPrioritized: string[];
  /** OCI media type of the layer (`tar+gzip` or `tar+zstd`). */
  mediaType: string;
  /** The layer descriptor's annotations: TOC digest, uncompressed size, and for zstd:chunked the manifest checksum and position. */
  annotations: Record<string, string>;
  /** zstd:chunked only: where the compressed TOC frame is and how long it is. */
  zstdManifest?: { offset: number; compressedSize: number; size: number; checksum: string };
}

export const DEFAULT_CHUNK_SIZE = 4 << 20;
const LANDMARK = new Uint8Array([LANDMARK_CONTENT]);
const END_OF_ARCHIVE = new Uint8Array(1024);

/** A blob made of members (gzip members or zstd frames), hashed compressed and uncompressed as it grows. */
abstract class Members {
  readonly out: Uint8Array[] = [];
  compressed = 0;
  uncompressed = 0;

  constructor(
    readonly blobHash: IHasher,
    readonly diffHash: IHasher,
  ) {}

  write(bytes: Uint8Array): void {
    if (!bytes.length) return;
    this.push(bytes);
    this.diffHash.update(bytes);
    this.uncompressed += bytes.length;
  }

  protected abstract push(bytes: Uint8Array): void;
  /** Ends the open member, if any; the next write starts a new one at `compressed`. */
  abstract close(): void;

  emit(c: Uint8Array): void {
    this.out.push(c);
    this.compressed += c.length;
    this.blobHash.update(c);
  }
}

class GzipMembers extends Members {
  private member?: Deflate;

  constructor(
    private readonly level: number,
    blobHash: IHasher,
    diffHash: IHasher,
  ) {
    super(blobHash, diffHash);
  }

  protected push(bytes: Uint8Array): void {
    if (!this.member) {
      const d = new Deflate({ level: this.level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9, gzip: true, chunkSize: 64 * 1024 });
      d.onData = (c: Uint8Array) => this.emit(c);
      this.member = d;
    }
    this.member.push(bytes, false);
    if (this.member.err) throw new Error(`gzip: ${this.member.msg}`);
  }

  close(): void {
    if (!this.member) return;
    this.member.push(new Uint8Array(0), true);
    if (this.member.err) throw new Error(`gzip: ${this.member.msg}`);
    this.member = undefined;
  }
}

/** zstd frames: a member's bytes (at most a chunk plus the following headers) are buffered and compressed as one frame. */
class ZstdMembers extends Members {
  private parts: Uint8Array[] = [];

  constructor(
    private readonly zstd: ZstdCodec,
    private readonly level: number,
    blobHash: IHasher,
    diffHash: IHasher,
  ) {
    super(blobHash, diffHash);
  }

  protected push(bytes: Uint8Array): void {
    this.parts.push(bytes.slice());
  }

  close(): void {
    if (!this.parts.length) return;
    const data = concatBytes(this.parts);
    this.parts = [];
    this.emit(this.zstd.compress(data, this.level));
  }
}

interface ZstdCodec {
  compress(data: Uint8Array, level?: number): Uint8Array;
}

/** The wasm zstd compressor, loaded on first use (gzip-only users never load it). */
async function loadZstd(): Promise<ZstdCodec> {
  const { Zstd } = await import('@hpcc-js/wasm-zstd');
  return Zstd.load();
}

type Data = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export async function writeEstargz(
  tar: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: EstargzWriteOptions = {},
): Promise<EstargzLayer> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!(Number.isSafeInteger(chunkSize) && chunkSize > 0)) throw new RangeError(`writeEstargz: bad chunk size ${chunkSize}`);
  const [blobHash, diffHash, fileHash, chunkHash] = await Promise.all([createSHA256(), createSHA256(), createSHA256(), createSHA256()]);
  blobHash.init();
  diffHash.init();
  const zstd = opts.compression === 'zstd';
  if (opts.compression !== undefined && opts.compression !== 'gzip' && !zstd) throw new RangeError(`writeEstargz: unknown compression ${String(opts.compression)}`);
  const level = opts.compressionLevel ?? (zstd ? 3 : 9);
  const [min, max] = zstd ? [1, 22] : [0, 9];
  if (!(Number.isInteger(level) && level >= min && level <= max)) throw new RangeError(`writeEstargz: bad compression level ${level}`);
  const w: Members = zstd ? new ZstdMembers(await loadZstd(), level, blobHash, diffHash) : new GzipMembers(level, blobHash, diffHash);
  const names = new NameTracker();
  const toc: Toc = { version: 1, entries: [] };

  /** Appends one entry as Go's AppendTar does. */
  const append = async (e: WEntry, data: Data): Promise<void> => {
    const ent = tocEntryOf(e, names);
    w.write(encodeHeader(e));
    if (e.type !== 'reg') {
      toc.entries.push(ent);
      return;
    }
    fileHash.init();
    if (e.size === 0) {
      ent.digest = `sha256:${fileHash.digest('hex')}`;
      toc.entries.push(ent);
      return;
    }
    let cur: TocEntry = ent;
    let written = 0; // file bytes written
    let left = 0; // bytes left in the current chunk
    const startChunk = () => {
      w.close();
      const n = Math.min(chunkSize, e.size - written);
      if (n === chunkSize) cur.chunkSize = n;
      cur.offset = w.compressed;
      if (written) cur.chunkOffset = written;
      left = n;
      chunkHash.init();
    };
    for await (const chunk of data) {
      for (let pos = 0; pos < chunk.length; ) {
        if (written >= e.size) throw new Error(`tar entry "${e.name}": more data than its size`);
        if (left === 0) startChunk();
        const take = chunk.subarray(pos, pos + Math.min(left, chunk.length - pos, e.size - written));
        w.write(take);
        fileHash.update(take);
        chunkHash.update(take);
        pos += take.length;
        written += take.length;
        left -= take.length;
        if (left === 0) {
          cur.chunkDigest = `sha256:${chunkHash.digest('hex')}`;
          toc.entries.push(cur);
          cur = { name: e.name, type: 'chunk' };
        }
      }
    }
    if (written !== e.size) throw new Error(`tar entry "${e.name}": ${written} of ${e.size} bytes`);
    ent.digest = `sha256:${fileHash.digest('hex')}`;
    w.write(new Uint8Array(padding(e.size)));
  };

  const landmark = (name: string) => append(landmarkEntry(name), [LANDMARK]);
  const skip = (e: WEntry) => {
    const n = cleanEntryName(e.name);
    return n === PREFETCH_LANDMARK || n === NO_PREFETCH_LANDMARK || n === TOC_TAR_NAME;
  };
  let missedPrioritized: string[] = [];
  if (opts.prioritized?.length) {
    // Reordering needs the whole layer: buffer it (Go spools it to a temporary file).
    const all: (WEntry & { data: Uint8Array[] })[] = [];
    for await (const { entry, data } of readEntries(tar)) {
      if (skip(entry)) continue;
      const chunks: Uint8Array[] = [];
      for await (const c of data) chunks.push(c);
      all.push({ ...entry, data: chunks });
    }
    const { head, rest, missed } = sortEntries(all, opts.prioritized);
    missedPrioritized = missed;
    for (const e of head) await append(e, e.data);
    await landmark(PREFETCH_LANDMARK);
    for (const e of rest) await append(e, e.data);
  } else {
    await landmark(NO_PREFETCH_LANDMARK);
    for await (const { entry, data } of readEntries(tar)) {
      if (!skip(entry)) await append(entry, data);
    }
  }
  w.close();

  const json = marshalToc(toc);
  fileHash.init();
  fileHash.update(json);
  const tocDigest = `sha256:${fileHash.digest('hex')}`;
  let zstdManifest: EstargzLayer['zstdManifest'];
  if (zstd) {
    // zstd:chunked: the stream ends with the last entry; the TOC JSON is one zstd frame in a
    // skippable frame (so decompressing the blob skips it), then the footer's skippable frame.
    const frame = (await loadZstd()).compress(json, level);
    w.emit(zstdSkippableHeader(frame.length));
    const offset = w.compressed;
    w.emit(frame);
    w.emit(zstdChunkedFooter(offset, frame.length, json.length));
    fileHash.init();
    fileHash.update(frame);
    zstdManifest = { offset, compressedSize: frame.length, size: json.length, checksum: `sha256:${fileHash.digest('hex')}` };
  } else {
    // The TOC member: a tar holding stargz.index.json, then the end-of-archive.
    const tocOffset = w.compressed;
    w.write(concatBytes([plainFileHeader(TOC_TAR_NAME, json.length), json, new Uint8Array(padding(json.length)), END_OF_ARCHIVE]));
    w.close();
    w.emit(estargzFooter(tocOffset));
  }
  const diffId = `sha256:${diffHash.digest('hex')}`;
  const annotations: Record<string, string> = {
    [TOC_DIGEST_ANNOTATION]: tocDigest,
    [UNCOMPRESSED_SIZE_ANNOTATION]: String(w.uncompressed),
  };
  if (zstdManifest) {
    annotations[ZSTD_MANIFEST_CHECKSUM_ANNOTATION] = zstdManifest.checksum;
    annotations[ZSTD_MANIFEST_POSITION_ANNOTATION] = `${zstdManifest.offset}:${zstdManifest.compressedSize}:${zstdManifest.size}:1`;
  }
  return {
    blob: w.out,
    tocDigest,
    diffId,
    uncompressedSize: w.uncompressed,
    digest: `sha256:${blobHash.digest('hex')}`,
    size: w.compressed,
    missedPrioritized,
    mediaType: `application/vnd.oci.image.layer.v1.tar+${zstd ? 'zstd' : 'gzip'}`,
    annotations,
    ...(zstdManifest ? { zstdManifest } : {}),
  };
}

function landmarkEntry(name: string): WEntry {
  return { name, type: 'reg', mode: 0, uid: 0, gid: 0, uname: '', gname: '', size: 1, mtimeSec: 0, mtimeNsec: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() };
}
