// Typed errors of the tree builder. The lead may later fold these codes into oci's
// ImageError; until then callers switch on `code`, never on message text.

export type TreeErrorCode =
  | 'BAD_TAR' // the layer is not a well-formed tar (checksum, truncation, unknown entry type, dangling hard link)
  | 'BAD_PATH' // an entry name is unsafe (NUL, `..` escaping the root) or cannot be placed
  | 'UNKNOWN_USER' // the image config's User names a user missing from /etc/passwd
  | 'UNKNOWN_GROUP'; // … or a group missing from /etc/group

export class TreeError extends Error {
  override name = 'TreeError';
  constructor(
    readonly code: TreeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
