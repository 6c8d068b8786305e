// Shapes shared by the OCI client and its callers. Everything here is plain data, so it
// crosses worker boundaries (structured clone) unchanged.

/** A `fetch`-compatible function: the only way oci/ touches the network or a disk. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Where injected code reports progress and retries; never `console`. */
export interface Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  urls?: string[];
}

/** The parts of the image config (OCI image-spec config.md) that the mounter uses. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
    Volumes?: Record<string, unknown> | null;
    StopSignal?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
  created?: string;
}

/** Credentials for one registry host. `token` is an identity/refresh token. */
export interface Credentials {
  username?: string;
  password?: string;
  token?: string;
}

/** Looks up credentials for a registry host (`docker.io` is asked as `docker.io`). */
export type CredentialLookup = (host: string) => Credentials | undefined | Promise<Credentials | undefined>;

/** Progress of one blob download, for progress bars. */
export interface BlobProgress {
  digest: string;
  loaded: number;
  total: number;
}

/** A parsed image reference: a registry repository, or an OCI image layout directory. */
export type ImageReference =
  | {
      kind: 'registry';
      /** `docker.io`, or host[:port] as written. */
      registry: string;
      /** `https://registry-1.docker.io`, or `http://localhost:5000` for loopback hosts. */
      apiBase: string;
      /** `library/alpine` */
      repository: string;
      tag?: string;
      digest?: string;
      /** `docker.io/library/alpine:latest` */
      canonical: string;
    }
  | {
      kind: 'layout';
      /** http(s)://… or file:///abs/dir, without a trailing slash. */
      baseUrl: string;
      tag?: string;
      digest?: string;
      canonical: string;
    };

/** Options shared by every pulling function; one typed object, isomorphic-git style. */
export interface PullOptions {
  /** Default `globalThis.fetch`; the Node edge passes one that also serves `file:` URLs. */
  fetch?: FetchLike;
  /** Default linux/amd64. */
  platform?: string | Platform;
  credentials?: CredentialLookup;
  logger?: Logger;
  /** Attempts after the first for retriable failures; default 5. */
  retries?: number;
  /** Base of the exponential backoff (with jitter); default 500. Retry-After wins, capped at 30 s. */
  retryDelayMs?: number;
  onProgress?: (p: BlobProgress) => void;
  signal?: AbortSignal;
  /** Faster platform codecs (the Node edge passes node:crypto and node:zlib); the defaults run anywhere. */
  codecs?: Codecs;
  /** Persistent cache of verified manifests and blobs: offline fallback for tags, by-digest reads served from it. */
  cache?: PullCache;
  /**
   * Base URL of an `imagemounter cors-proxy` (e.g. `http://127.0.0.1:5080`): every http(s)
   * request goes to `{proxy}/{scheme}/{host}/{path}` instead, so a page can pull from
   * registries that send no CORS headers. Auth, scopes and redirects still follow the
   * original URLs.
   */
  proxy?: string;
}

/** Hashing and gzip decoding hooks; the isomorphic defaults are hash-wasm and DecompressionStream/pako. */
export interface Codecs {
  /** An incremental hasher for blob verification. */
  createHash?(algorithm: 'sha256' | 'sha512'): IncrementalHash;
  /** A decoder for gzip data that may hold several members (eStargz); errors as the decoder raises them. */
  gunzip?(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
}

export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  /** Lowercase hex of everything passed to update. */
  digestHex(): string;
}

export interface ResolvedImage {
  reference: ImageReference;
  /** Digest of the top-level index / manifest list, when there was one. */
  indexDigest?: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Uint8Array;
  /** Platform of the chosen manifest. */
  platform: Platform;
  /** Platforms offered by the index (just `[platform]` without an index). */
  availablePlatforms: Platform[];
  configDigest: string;
  /** Verified, byte-for-byte as fetched. */
  configBytes: Uint8Array;
  config: ImageConfig;
  layers: Descriptor[];
  /** The tag could not be fetched (offline) and was resolved from `PullOptions.cache`. */
  fromCache?: true;
}

/** A manifest, index (or layout index.json) as cached: verified bytes and where they came from. */
export interface CachedManifest {
  bytes: Uint8Array;
  mediaType: string;
  /** Digest of `bytes`; checked again on every read. */
  digest: string;
  /** When it was fetched (ms since the epoch). */
  fetchedAt: number;
}

/** One entry of a PullCache, for listings. */
export interface CacheEntryInfo {
  kind: 'manifest' | 'blob' | 'chunk';
  /** The reference (manifests) or digest (blobs, chunks). */
  key: string;
  size: number;
  /** ms since the epoch. */
  lastUsed: number;
}

/** Where a blob is written while it downloads; nothing is visible until `commit`. */
export interface BlobSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Checks the written bytes against the digest and publishes them; throws (and discards) on mismatch. */
  commit(): Promise<void>;
  /** Discards what was written. */
  abort(): Promise<void>;
}

/**
 * Persistent store of pulled content (src/cache: IndexedDB; src/node: a directory). Every
 * read re-verifies the bytes against their digest; a corrupt entry is deleted and read as a miss.
 */
export interface PullCache {
  /** A manifest by reference (a tag-bearing reference, or a digest). */
  getManifest(ref: string): Promise<CachedManifest | undefined>;
  putManifest(ref: string, entry: CachedManifest): Promise<void>;
  /** The whole verified blob as a stream, or undefined when absent (or found corrupt). */
  openBlob(digest: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /** Starts writing a blob of `size` bytes. */
  writeBlob(digest: string, size: number): Promise<BlobSink>;
  /** Decompressed eStargz chunks by chunk digest. */
  getChunk(digest: string): Promise<Uint8Array | undefined>;
  putChunk(digest: string, bytes: Uint8Array): Promise<void>;
  list(): Promise<CacheEntryInfo[]>;
  /** Removes every entry with this key (as `list` shows it). */
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
}
