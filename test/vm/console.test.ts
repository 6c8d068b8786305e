import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { encodeGoLine, GuestConsole } from '../../src/vm/index.js';

function run(chunks: string[]) {
  const events: string[] = [];
  let output = '';
  const c = new GuestConsole({
    onReady: () => events.push('ready'),
    onStart: () => events.push('start'),
    onOutput: (b) => (output += new TextDecoder().decode(b)),
    onExit: (s) => events.push(`exit ${s}`),
    onError: (m, log) => events.push(`error ${m} | ${log.trim().split('\n').at(-1)}`),
  });
  for (const ch of chunks) c.push(new TextEncoder().encode(ch));
  return { events, output, c };
}

const SESSION =
  '[    0.1] Linux version 6.1\r\nboot noise\r\n@@IMAGEMOUNTER-READY@@\r\nudhcpc: lease\r\n@@IMAGEMOUNTER-START@@\r\n' +
  'uid=1000(app) gid=1000(app)\n/home/app\nno newline at end, @ and @@ and @@IMAGEMOUNTER-EXIT 7@@\n';

describe('GuestConsole', () => {
  it('keeps boot and set-up output aside, passes the container output, strips the exit marker', () => {
    const { events, output, c } = run([SESSION]);
    expect(events).toEqual(['ready', 'start', 'exit 7']);
    expect(output).toBe('uid=1000(app) gid=1000(app)\n/home/app\nno newline at end, @ and @@ and ');
    expect(c.log).toContain('boot noise');
    expect(c.log).toContain('udhcpc: lease');
  });

  it('finds markers split across chunks at every position', () => {
    const whole = run([SESSION]);
    for (let i = 1; i < SESSION.length; i += 3) {
      const split = run([SESSION.slice(0, i), SESSION.slice(i)]);
      expect(split.events, `split at ${i}`).toEqual(whole.events);
      expect(split.output, `split at ${i}`).toBe(whole.output);
    }
    const bytes = run([...SESSION]);
    expect(bytes.output).toBe(whole.output);
  });

  it('passes through marker-like text the container prints', () => {
    const { events, output } = run(['@@IMAGEMOUNTER-READY@@\n@@IMAGEMOUNTER-START@@\n', 'x @@IMAGEMOUNTER-READY@@ y\n', '@@IMAGEMOUNTER-EXIT 0@@\n']);
    expect(events).toEqual(['ready', 'start', 'exit 0']);
    expect(output).toBe('x @@IMAGEMOUNTER-READY@@ y\n');
  });

  it('reports a set-up failure with the last output', () => {
    const { events } = run(['@@IMAGEMOUNTER-READY@@\n', 'mount: mounting 192.168.127.252 failed\n@@IMAGEMOUNTER-ERROR 9P mount of 192.168.127.252 failed@@\n']);
    expect(events).toEqual(['ready', 'error 9P mount of 192.168.127.252 failed | mount: mounting 192.168.127.252 failed']);
  });
});

describe.skipIf(!existsSync('/bin/busybox'))('encodeGoLine', () => {
  it('is one line of printable ASCII that busybox sh evals back into every value', () => {
    const args = ['/bin/sh', '-c', 'echo "é 😀"\n\x03\x7f\ttab', "it's", '', '\\ $HOME `id` * ?', 'nul\0gone'];
    const line = encodeGoLine({ args, tty: false, time: 1, rows: 40, probe: "find / | wc -l; echo 'x'" });
    expect(line.endsWith('\n')).toBe(true);
    expect(/^[\x20-\x7e]*$/.test(line.slice(0, -1))).toBe(true);
    // As /init does: eval the line, then the command's words.
    const script = `IFS= read -r go; eval "$go"; printf '%s\\0' "$go_tty" "$go_time" "$go_rows" "\${go_cols-unset}" "$go_probe"; eval "set -- $go_args"; for a; do printf '%s\\0' "$a"; done`;
    const out = execFileSync('/bin/busybox', ['sh', '-c', script], { input: line }).toString('utf8').split('\0').slice(0, -1);
    expect(out).toEqual(['false', '1', '40', 'unset', "find / | wc -l; echo 'x'", ...args.map((a) => a.replace('\0', ''))]);
  });
});
