// The container's terminal: xterm.js sized to its panel. Bytes from the VM's console are
// written as they come (the guest's tty does echo and line editing); keystrokes and size
// changes go to whatever console the page wired (a c2w VM worker's tty channel, v86's
// serial port).
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';

export interface ConsoleTerminal {
  write(bytes: Uint8Array): void;
  onInput(cb: (bytes: Uint8Array) => void): void;
  onResize(cb: (size: { cols: number; rows: number }) => void): void;
  rows(): number;
  cols(): number;
  /** The visible buffer as text, one line per row (tests and copy). */
  text(): string;
  focus(): void;
}

export function openTerminal(panel: HTMLElement): ConsoleTerminal {
  panel.hidden = false;
  panel.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = 'Terminal';
  const host = document.createElement('div');
  host.id = 'terminal';
  panel.append(h, host);
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  new ResizeObserver(() => fit.fit()).observe(host);
  const encoder = new TextEncoder();
  // Exposed for tests and for anyone debugging the page from the console.
  (globalThis as { imagemounterTerminal?: Terminal }).imagemounterTerminal = term;
  return {
    write: (bytes) => term.write(bytes),
    onInput: (cb) => void term.onData((s) => cb(encoder.encode(s))),
    onResize: (cb) => void term.onResize(cb),
    rows: () => term.rows,
    cols: () => term.cols,
    text() {
      const buf = term.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
      return lines.join('\n').replace(/\n+$/, '');
    },
    focus: () => term.focus(),
  };
}
