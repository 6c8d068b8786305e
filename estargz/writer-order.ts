// Entry order of estargz's `Build` (v0.12.0 `sortEntries`/`moveRec`): prioritized files
// first in the given order, each preceded by its parent directories and, for a hard link,
// its target; then the landmark; then the rest in tar order. A prioritized file whose
// parent directory (or link target) is missing from the tar is skipped, as in Go.

export interface Named {
  name: string;
  type: string;
  linkname: string;
}

/** Go's `cleanEntryName`: path.Clean("/" + name) without the leading slash. */
export function cleanEntryName(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

class TarFile<T extends Named> {
  index = new Map<string, T>();
  stream: T[] = [];
  add(e: T): void {
    this.index.set(cleanEntryName(e.name), e);
    this.stream.push(e);
  }
  get(name: string): T | undefined {
    return this.index.get(cleanEntryName(name));
  }
  remove(name: string): void {
    const n = cleanEntryName(name);
    this.index.delete(n);
    this.stream = this.stream.filter((e) => cleanEntryName(e.name) !== n);
  }
}

class NotFound extends Error {}

function moveRec<T extends Named>(name: string, from: TarFile<T>, to: TarFile<T>): void {
  name = cleanEntryName(name);
  if (name === '') {
    const root = from.get(name);
    if (root) {
      to.add(root);
      from.remove(name);
    }
    return;
  }
  if (!from.get(name) && !to.get(name)) throw new NotFound(name);
  const slash = name.lastIndexOf('/');
  moveRec(slash < 0 ? '' : name.slice(0, slash + 1), from, to);
  const link = from.get(name);
  if (link && link.type === 'hardlink') moveRec(link.linkname, from, to);
  const e = from.get(name);
  if (e) {
    to.add(e);
    from.remove(name);
  }
}

/**
 * Splits `entries` (landmarks already dropped) into the prioritized head and the rest;
 * `missed` gets the prioritized names that were not found.
 */
export function sortEntries<T extends Named>(entries: T[], prioritized: string[]): { head: T[]; rest: T[]; missed: string[] } {
  const from = new TarFile<T>();
  for (const e of entries) from.add(e);
  const to = new TarFile<T>();
  const missed: string[] = [];
  for (const p of prioritized) {
    try {
      moveRec(p, from, to);
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
      missed.push(p);
    }
  }
  return { head: to.stream, rest: from.stream, missed };
}
