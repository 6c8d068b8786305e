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
