// Where the page keeps the embedded VM's boot snapshot (tens of MiB): the origin private
// file system, read back as one file. IndexedDB, which Chromium reads a value this size
// from in well over a second on a small machine, only where OPFS cannot be written from
// the page (no createWritable). One snapshot is kept: saving a new key drops the others.
import { createStore, del, get, set } from 'idb-keyval';

export interface SnapshotStore {
  readonly where: string;
  get(key: string): Promise<ArrayBuffer | undefined>;
  set(key: string, state: ArrayBuffer): Promise<void>;
  delete(key: string): Promise<void>;
}

const DIR = 'imagemounter-vm';
const fileName = (key: string) => `${key}.v86state`;

export async function openSnapshotStore(): Promise<SnapshotStore> {
  const root = await navigator.storage?.getDirectory?.().catch(() => undefined);
  const writable = typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype;
  if (root && writable) return opfsStore(await root.getDirectoryHandle(DIR, { create: true }));
  const store = createStore('imagemounter-vm', 'snapshots');
  return {
    where: 'IndexedDB',
    get: (key) => get<ArrayBuffer>(key, store),
    set: (key, state) => set(key, state, store),
    delete: (key) => del(key, store),
  };
}

function opfsStore(dir: FileSystemDirectoryHandle): SnapshotStore {
  return {
    where: 'the origin private file system',
    async get(key) {
      try {
        const file = await (await dir.getFileHandle(fileName(key))).getFile();
        return await file.arrayBuffer();
      } catch (e) {
        if ((e as DOMException).name === 'NotFoundError') return undefined;
        throw e;
      }
    },
    async set(key, state) {
      // A writable stream writes to a swap file that replaces the old one on close: a
      // reload mid-write finds the previous snapshot or none, never half of one.
      const out = await (await dir.getFileHandle(fileName(key), { create: true })).createWritable();
      await out.write(state);
      await out.close();
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
        if (name !== fileName(key)) await dir.removeEntry(name).catch(() => undefined);
      }
    },
    async delete(key) {
      await dir.removeEntry(fileName(key)).catch(() => undefined);
    },
  };
}
