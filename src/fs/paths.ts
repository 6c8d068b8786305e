// Entry names in a layer tar are untrusted. They are reduced to a list of plain components
// relative to the image root; anything that cannot be placed safely is rejected, as
// Docker and containerd refuse layers whose names escape the root.

import { ImageError } from '../../oci/errors.js';

/**
 * Normalise a tar entry name (or hard-link target) to path components.
 * - Leading `/` and `./` are dropped: absolute names are taken relative to the image
 *   root, the way `tar` and container runtimes extract them.
 * - Empty and `.` components are dropped; `..` removes the previous component.
 * - A NUL byte, or a `..` that would climb above the root, throws ImageError BAD_PATH.
 * The image root itself normalises to `[]`.
 * `..` is resolved lexically (before any symlink), which is what keeps a name inside
 * the root no matter what the tree holds.
 */
export function normalisePath(name: string, layer?: string): string[] {
  if (name.includes('\0')) throw badPath(name, layer, 'contains a NUL byte');
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw badPath(name, layer, 'escapes the image root with ".."');
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/** `'/a/b'` for components `['a', 'b']`, `'/'` for the root. */
export function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

function badPath(name: string, layer: string | undefined, why: string): ImageError {
  const where = layer ? ` in layer ${layer}` : '';
  return new ImageError('BAD_PATH', `unsafe entry name ${JSON.stringify(name)}${where}: ${why}`);
}
