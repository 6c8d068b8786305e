// The progress panel: one row per layer (bytes fetched / total, lazy or full), the total
// and the rate, fed by the worker's progress and layer events.
import { formatBytes } from './format.js';

interface Row {
  el: HTMLTableRowElement;
  loaded: number;
  total: number;
  state: string;
}

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private readonly body: HTMLTableSectionElement;
  private readonly totalEl: HTMLElement;
  private readonly started = performance.now();

  constructor(private readonly root: HTMLElement) {
    root.innerHTML = `<h2>Pull</h2>
      <table class="layers"><thead><tr><th>layer</th><th>fetched</th><th></th><th>mode</th></tr></thead><tbody></tbody></table>
      <p class="total" id="progress-total">waiting for the first layer…</p>`;
    this.body = root.querySelector('tbody')!;
    this.totalEl = root.querySelector('.total')!;
  }

  private row(digest: string, total: number): Row {
    let row = this.rows.get(digest);
    if (!row) {
      const el = document.createElement('tr');
      el.dataset.digest = digest;
      el.innerHTML = `<td class="digest"></td><td class="bytes"></td><td><progress max="1" value="0"></progress></td><td class="state">pulling</td>`;
      el.querySelector('.digest')!.textContent = digest.replace(/^sha256:/, '').slice(0, 12);
      (el.querySelector('.digest') as HTMLElement).title = digest;
      this.body.append(el);
      row = { el, loaded: 0, total, state: 'pulling' };
      this.rows.set(digest, row);
    }
    return row;
  }

  progress(digest: string, loaded: number, total: number): void {
    const row = this.row(digest, total);
    row.loaded = loaded;
    row.total = total;
    this.render(row);
  }

  layer(digest: string, bytes: number, lazy: boolean): void {
    const row = this.row(digest, bytes);
    row.state = lazy ? 'lazy' : 'full';
    if (!lazy) row.loaded = row.total;
    this.render(row);
  }

  private render(row: Row): void {
    row.el.querySelector('.bytes')!.textContent = `${formatBytes(row.loaded)} / ${formatBytes(row.total)}`;
    const bar = row.el.querySelector('progress')!;
    bar.value = row.total > 0 ? row.loaded / row.total : 1;
    row.el.querySelector('.state')!.textContent = row.state;
    let loaded = 0;
    let total = 0;
    for (const r of this.rows.values()) {
      loaded += r.loaded;
      total += r.total;
    }
    const secs = Math.max((performance.now() - this.started) / 1000, 0.001);
    this.totalEl.textContent = `total: ${formatBytes(loaded)} of ${formatBytes(total)} in ${this.rows.size} layer(s), ${formatBytes(Math.round(loaded / secs))}/s`;
  }
}
