// One error type for everything that can go wrong while pulling, so the CLI can print a
// single actionable line and callers can branch on `code` instead of parsing messages.

export type ImageErrorCode =
  | 'BAD_REFERENCE'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'TRUNCATED'
  | 'MALFORMED_MANIFEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NO_MATCHING_PLATFORM'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'HTTP_ERROR'
  | 'NETWORK'
  | 'BAD_TAR'
  | 'BAD_PATH'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_GROUP'
  | 'NOT_SUPPORTED';

export class ImageError extends Error {
  code: ImageErrorCode;
  /** HTTP status when the error came from a response, for callers that care. */
  status?: number;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImageError';
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
  }
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    // undici hides the useful part ("ECONNRESET") in `cause`.
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message && cause.message !== e.message ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}
