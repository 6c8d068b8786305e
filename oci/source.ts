// What resolve.ts needs from where an image lives (a registry or an image layout): the
// two kinds differ in addressing and auth, not in how manifests and blobs are verified.
import { ImageError, errorMessage } from './errors.js';
import type { HttpContext } from './http.js';
import type { Descriptor } from './types.js';

export interface FetchedManifest {
  bytes: Uint8Array;
  /** Content-Type without parameters ('' if none). */
  contentType: string;
  /** `Docker-Content-Digest` response header, when the server sent one. */
  headerDigest?: string;
  url: string;
}

export interface ByteRange {
  start: number;
  /** Exclusive; open-ended when absent. */
  end?: number;
}

export interface ImageSource {
  /** Names the image in messages: `docker.io/library/alpine`, `file:///x/layout`. */
  readonly label: string;
  /** Local files do not drop connections: a short body is final, not worth retrying. */
  readonly local?: boolean;
  /** A manifest or index by tag or digest (layouts: digest only). Unverified. */
  getManifest(ctx: HttpContext, ref: string): Promise<FetchedManifest>;
  /** A 200/206 response for the blob (or part of it); anything else is thrown as ImageError. */
  getBlob(ctx: HttpContext, desc: Descriptor, range?: ByteRange): Promise<Response>;
}

export function rangeHeader(range: ByteRange | undefined): Record<string, string> {
  if (!range) return {};
  return { range: `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}` };
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ImageError('MALFORMED_MANIFEST', `${what} is not valid JSON: ${errorMessage(e)}`, { cause: e });
  }
}
