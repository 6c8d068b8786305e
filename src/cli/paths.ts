import type { Inode, Tree } from '../fs/index.js';

const MAX_SYMLINK_HOPS = 40; // Linux's limit (ELOOP)

/** Resolves a path inside the image like the kernel would, following symlinks at every step. */
export function followPath(tree: Tree, path: string): { inode: Inode; path: string } {
  let hops = 0;
  const pending = split(path);
  const done: string[] = [];
  let inode = tree.root;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      done.pop();
      inode = tree.lookup('/' + done.join('/')) ?? tree.root;
      continue;
    }
    const child = inode.children?.get(name);
    if (!inode.children) throw new Error(`/${done.join('/')}: not a directory`);
    if (!child) throw new Error(`/${[...done, name].join('/')}: no such file or directory in the image`);
    if (child.type === 'symlink') {
      if (++hops > MAX_SYMLINK_HOPS) throw new Error(`${path}: too many levels of symbolic links`);
      const target = child.linkTarget ?? '';
      if (target.startsWith('/')) {
        done.length = 0;
        inode = tree.root;
      }
      pending.unshift(...split(target));
      continue;
    }
    done.push(name);
    inode = child;
  }
  return { inode, path: '/' + done.join('/') };
}

function split(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

const typeChar: Record<Inode['type'], string> = { dir: 'd', reg: '-', symlink: 'l', char: 'c', block: 'b', fifo: 'p' };

export function formatLsLine(name: string, inode: Inode): string {
  const size = inode.type === 'char' || inode.type === 'block' ? `${inode.rdev.major}, ${inode.rdev.minor}` : String(inode.size);
  const when = new Date(inode.mtime.sec * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const target = inode.type === 'symlink' ? ` -> ${inode.linkTarget}` : '';
  return `${typeChar[inode.type]}${modeString(inode.mode)} ${String(inode.nlink).padStart(3)} ${String(inode.uid).padStart(5)} ${String(inode.gid).padStart(5)} ${size.padStart(10)} ${when} ${name}${target}`;
}

function modeString(mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? specialChar : specialChar.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}
