// Reads a file of the served tree (route root included) through the library, for the
// files the CLI's `cat` cannot reach: `cat` is rooted at rootfs/, config/ is not.
// Imported lazily so the rest of a test file runs while the library is being built.

export async function readServedFile(ref: string, path: string): Promise<Uint8Array> {
  const { openImage } = await import('../../src/index.js');
  const { tree } = await openImage(ref, {});
  const inode = tree.lookup(path);
  if (!inode) throw new Error(`${path} not in the served tree`);
  return tree.read(inode, 0, inode.size);
}
