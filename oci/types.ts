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
}
