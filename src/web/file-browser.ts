// A read-only file browser over the worker's tree: a clickable directory listing with a
// breadcrumb, and a viewer showing a file's text or a hex dump of its first 64 KiB.
import { asText, formatBytes, formatMode, hexDump, joinPath } from './format.js';
import type { DirEntry } from './protocol.js';

export const VIEW_BYTES = 64 * 1024;

export interface TreeSource {
  list(path: string): Promise<DirEntry[]>;
  read(path: string, max: number): Promise<{ size: number; bytes: Uint8Array }>;
}

export class FileBrowser {
  private readonly crumbs: HTMLElement;
  private readonly listing: HTMLUListElement;
  private readonly viewer: HTMLElement;
  cwd = '/';

  constructor(root: HTMLElement, private readonly source: TreeSource) {
    root.innerHTML = `<h2>Files</h2><nav class="crumbs" id="crumbs"></nav>
      <div class="browser"><ul class="listing" id="listing"></ul><section class="viewer" id="viewer"><p class="hint">Pick a file to view it.</p></section></div>`;
    this.crumbs = root.querySelector('#crumbs')!;
    this.listing = root.querySelector('#listing')!;
    this.viewer = root.querySelector('#viewer')!;
  }

  async open(path: string): Promise<void> {
    const entries = await this.source.list(path);
    this.cwd = path;
    this.renderCrumbs();
    this.listing.replaceChildren();
    this.listing.dataset.path = path;
    if (path !== '/') this.listing.append(this.item({ name: '..', type: 'dir', size: 0, mode: 0o755 }, parent(path)));
    for (const e of entries) this.listing.append(this.item(e, joinPath(path, e.name)));
  }

  private renderCrumbs(): void {
    this.crumbs.replaceChildren();
    const parts = this.cwd.split('/').filter(Boolean);
    const link = (label: string, target: string) => {
      const a = document.createElement('a');
      a.href = '#';
      a.textContent = label;
      a.onclick = (ev) => {
        ev.preventDefault();
        void this.open(target);
      };
      return a;
    };
    this.crumbs.append(link('/', '/'));
    parts.forEach((p, i) => {
      if (i > 0) this.crumbs.append('/');
      this.crumbs.append(link(p, '/' + parts.slice(0, i + 1).join('/')));
    });
  }

  private item(e: DirEntry, path: string): HTMLLIElement {
    const li = document.createElement('li');
    li.className = `entry ${e.type}`;
    li.dataset.name = e.name;
    li.dataset.type = e.type;
    if (e.linkTarget !== undefined) li.dataset.target = e.linkTarget;
    const name = document.createElement('a');
    name.href = '#';
    name.className = 'name';
    name.textContent = e.name + (e.type === 'dir' && e.name !== '..' ? '/' : '');
    name.onclick = (ev) => {
      ev.preventDefault();
      void this.activate(e, path);
    };
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = e.name === '..' ? '' : `${formatMode(e.type, e.mode)} ${e.type === 'reg' ? formatBytes(e.size) : ''}`;
    li.append(meta, name);
    if (e.linkTarget !== undefined) {
      const t = document.createElement('span');
      t.className = 'target';
      t.textContent = ` → ${e.linkTarget}`;
      li.append(t);
    }
    return li;
  }

  private async activate(e: DirEntry, path: string): Promise<void> {
    try {
      if (e.type === 'dir') return await this.open(path);
      if (e.type === 'symlink') {
        // A link to a directory opens it; a link to a file shows the file.
        try {
          return await this.open(path);
        } catch {
          return await this.show(path, e.linkTarget);
        }
      }
      if (e.type === 'reg') return await this.show(path);
      this.viewer.replaceChildren(heading(path), para(`${e.type} device or fifo: nothing to show.`));
    } catch (err) {
      this.viewer.replaceChildren(heading(path), para((err as Error).message, 'error'));
    }
  }

  async show(path: string, via?: string): Promise<void> {
    const { size, bytes } = await this.source.read(path, VIEW_BYTES);
    const text = asText(bytes);
    const pre = document.createElement('pre');
    pre.className = text === undefined ? 'hex' : 'text';
    pre.textContent = text ?? hexDump(bytes);
    const note = `${formatBytes(size)}${via ? `, symlink to ${via}` : ''}${text === undefined ? ', binary: hex dump' : ''}${size > bytes.length ? `, first ${formatBytes(bytes.length)} shown` : ''}`;
    this.viewer.replaceChildren(heading(path), para(note, 'hint'), pre);
    this.viewer.dataset.path = path;
  }
}

function parent(path: string): string {
  const p = path.replace(/\/[^/]*$/, '');
  return p === '' ? '/' : p;
}

function heading(text: string): HTMLElement {
  const h = document.createElement('h3');
  h.textContent = text;
  return h;
}

function para(text: string, cls?: string): HTMLElement {
  const p = document.createElement('p');
  p.textContent = text;
  if (cls) p.className = cls;
  return p;
}
