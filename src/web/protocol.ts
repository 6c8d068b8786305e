// Messages between the page and the mount worker. The tree lives in the worker; the page
// asks for one directory listing or one file head at a time.
import type { RingBuffers } from '../transport/rings.js';

export interface OpenRequest {
  type: 'open';
  ref: string;
  platform?: string;
  proxy?: string;
  /** The platform is the embedded VM's default, not the user's choice. */
  embeddedVm?: boolean;
  /** Registry credentials the user gave in this tab. */
  credentials?: { username?: string; password?: string; token?: string };
  /** c2w's rings of the VM link, when the page runs or bridges a VM. */
  rings?: RingBuffers;
}
export interface ListRequest {
  type: 'list';
  id: number;
  path: string;
}
export interface ReadRequest {
  type: 'read';
  id: number;
  path: string;
  /** Bytes to return from the start of the file. */
  max: number;
}
export type ToWorker = OpenRequest | ListRequest | ReadRequest;

export interface DirEntry {
  name: string;
  type: 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';
  size: number;
  mode: number;
  linkTarget?: string;
}

/** What went wrong, with what the page needs to say it in plain words. */
export interface ErrorInfo {
  /** ImageError code, or absent for other errors. */
  code?: string;
  message: string;
  /** The message of the underlying cause (e.g. `Failed to fetch`). */
  cause?: string;
  ref: string;
  /** Origin the pull talked to (registry, layout host or proxy). */
  target?: string;
  /** True when that origin is not the page's. */
  crossOrigin: boolean;
  proxied: boolean;
  /** True when the pull sent credentials the user gave. */
  withCredentials?: boolean;
  /** True when the platform was chosen for the embedded VM (linux/386), not by the user. */
  embeddedVm?: boolean;
  /**
   * After a cross-origin fetch failure: the status of a plain GET (no custom headers, so
   * no CORS preflight) to the registry's /v2/ or the layout's index.json; absent when
   * that could not be read either.
   */
  probeStatus?: number;
}

export interface MountedSummary {
  ref: string;
  canonical: string;
  platform: string;
  manifestDigest: string;
  entries: number;
  fetched: number;
  total: number;
  lazy?: { requests: number; bytesFetched: number; blobBytes: number };
}

export type FromWorker =
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'progress'; digest: string; loaded: number; total: number }
  | { type: 'layer'; index: number; digest: string; entries: number; bytes: number; lazy: boolean }
  | { type: 'mounted'; summary: MountedSummary }
  | { type: 'vm-link'; state: 'closed'; reason: string }
  | { type: 'error'; error: ErrorInfo }
  | { type: 'listing'; id: number; path: string; entries?: DirEntry[]; error?: string }
  | { type: 'file'; id: number; path: string; size?: number; bytes?: Uint8Array; error?: string };
