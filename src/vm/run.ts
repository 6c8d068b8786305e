// Runs a mounted image's container in a VM from Node: v86 in this process (i386 guest),
// or qemu-system-x86_64 as a child (amd64 guest) whose NIC connects to a local socket.
// The serial console is the container's terminal; its exit status is the result.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { MountedImageSession } from '../mount.js';
import { listenSockets } from '../transport/index.js';
import { pruneOldest, v86SnapshotDigest, type VmAssets } from './assets.js';
import { GuestConsole } from './console.js';
import { encodeGoLine, MARK, resizeLine, type GoLine } from './init-script.js';
import { badV86State } from './v86-state.js';
import { linkGuestFrames, startV86, type V86Guest } from './v86.js';

export interface RunInVmOptions {
  session: MountedImageSession;
  assets: VmAssets;
  /** Replaces the image's command (Entrypoint + Cmd). */
  args?: string[];
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream & { columns?: number; rows?: number };
  /** Where boot output goes with `debug`, and where failures are explained. */
  stderr?: NodeJS.WritableStream;
  debug?: boolean;
  memoryMiB?: number;
  /**
   * v86: a directory for the boot snapshot (saved at the first cold boot, restored by
   * later runs); `false` boots cold every time. Default: beside the assets.
   */
  snapshotDir?: string | false;
  /** Progress marks: `boot` (VM started), `ready`, `start` (container started), with ms since the call. */
  onTiming?: (mark: string, ms: number) => void;
  /**
   * A shell command the guest runs once the bundle is mounted, before the container
   * (GoLine.probe); `onOutput` gets what it printed, with LF line ends, before the
   * container starts. For tests and benchmarks.
   */
  probe?: { command: string; onOutput: (text: string) => void };
}

export class VmRunError extends Error {
  constructor(
    message: string,
    readonly code: 'GUEST_SETUP' | 'VM_EXITED',
    readonly log = '',
  ) {
    super(message);
    this.name = 'VmRunError';
  }
}

/** The container's exit status. */
export async function runInVm(opts: RunInVmOptions): Promise<number> {
  return opts.assets.vm === 'v86' ? runV86(opts) : runQemu(opts);
}

interface GuestIo {
  /** Serial bytes to the guest. */
  send(bytes: Uint8Array | string): void;
  /** A new terminal size (the guest's second serial port). */
  resize(rows: number, cols: number): void;
}

/** The VM-independent part: console markers, the settings line, stdin and the terminal. */
function consoleSession(opts: RunInVmOptions, started: number, io: () => GuestIo, hooks: { onReady?: () => Promise<void> } = {}) {
  const stdin = opts.stdin;
  const tty = stdin?.isTTY === true && typeof stdin.setRawMode === 'function';
  const mark = (m: string) => opts.onTiming?.(m, Date.now() - started);
  let settle!: (status: number) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<number>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let lastByte = 10;
  const onData = (b: Buffer) => {
    if (b.length) lastByte = b[b.length - 1]!;
    io().send(new Uint8Array(b.buffer, b.byteOffset, b.length));
  };
  // The host terminal's size follows the container: at its start and on each change.
  const stdout = opts.stdout as typeof opts.stdout & { on?(event: 'resize', l: () => void): unknown; off?(event: 'resize', l: () => void): unknown };
  const onResize = () => {
    if (opts.stdout.rows && opts.stdout.columns) io().resize(opts.stdout.rows, opts.stdout.columns);
  };
  // Piped input ends: ^D ends the guest's read (twice when a line is unfinished).
  const onEnd = () => io().send(lastByte === 10 ? '\x04' : '\x04\x04');
  const go = (): GoLine => ({
    ...(opts.args ? { args: opts.args } : {}),
    tty,
    ...(tty && opts.stdout.rows ? { rows: opts.stdout.rows, cols: opts.stdout.columns } : {}),
    time: Math.floor(Date.now() / 1000),
    ...(opts.debug ? { debug: true } : {}),
    ...(opts.probe ? { probe: opts.probe.command } : {}),
  });
  const sendGo = () => {
    const line = encodeGoLine(go());
    // The guest's UART takes a few KiB at a time; pace long lines.
    for (let i = 0, k = 0; i < line.length; i += 512, k++) setTimeout(() => io().send(line.slice(i, i + 512)), k * 5);
  };
  // The probe's output can exceed the console's log: keep the set-up bytes whole.
  const setupBytes: Uint8Array[] = [];
  const showBoot = opts.debug === true && opts.stderr !== undefined;
  const onBootOutput = (b: Uint8Array) => {
    if (opts.probe) setupBytes.push(b.slice());
    if (showBoot) opts.stderr!.write(b);
  };
  const console = new GuestConsole({
    onReady: () => {
      mark('ready');
      void (hooks.onReady ?? (async () => {}))().then(sendGo, (e: unknown) => fail(e as Error));
    },
    onStart: () => {
      mark('start');
      if (opts.probe) {
        const text = probeOutput(setupBytes.splice(0));
        if (text === undefined) return fail(new VmRunError('the guest printed no probe output', 'GUEST_SETUP', console.log));
        opts.probe.onOutput(text);
      }
      if (!stdin) return;
      if (tty) {
        stdin.setRawMode!(true);
        onResize();
        stdout.on?.('resize', onResize);
      }
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
    },
    onOutput: (bytes) => opts.stdout.write(bytes),
    onExit: (status) => {
      mark(`exit ${status}`);
      settle(status);
    },
    onError: (message, log) => fail(new VmRunError(`the guest could not start the container: ${message}`, 'GUEST_SETUP', log)),
    ...(showBoot || opts.probe ? { onBootOutput } : {}),
  });
  const cleanup = () => {
    if (!stdin) return;
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdout.off?.('resize', onResize);
    if (tty) stdin.setRawMode!(false);
    stdin.pause();
  };
  return { console, done, fail, sendGo, mark, cleanup };
}

/** The text between the probe markers of the guest's set-up output, CR LF made LF. */
function probeOutput(chunks: Uint8Array[]): string | undefined {
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  const from = text.indexOf(MARK.probe);
  const to = text.indexOf(MARK.probeEnd, from);
  if (from < 0 || to < 0) return undefined;
  return text.slice(from + MARK.probe.length, to).replace(/\r\n/g, '\n').replace(/^\n/, '');
}

const require = createRequire(import.meta.url);


const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

async function runV86(opts: RunInVmOptions): Promise<number> {
  const started = Date.now();
  const { assets } = opts;
  if (!assets.bios || !assets.vgaBios) throw new Error('v86 needs a BIOS and a VGA BIOS (--bios)');
  const files = {
    kernel: readFileSync(assets.kernel),
    initrd: readFileSync(assets.initrd),
    bios: readFileSync(assets.bios),
    vgaBios: readFileSync(assets.vgaBios),
  };
  const memoryMiB = opts.memoryMiB ?? 256;
  const snapshotDir = opts.snapshotDir === undefined ? join(dirname(assets.initrd), 'snapshots') : opts.snapshotDir;
  const statePath = snapshotDir
    ? join(snapshotDir, `state-${v86SnapshotDigest([files.kernel, files.initrd, files.bios, files.vgaBios], assets.nic)}-${memoryMiB}m.bin`)
    : undefined;
  let state = statePath !== undefined && existsSync(statePath) ? toArrayBuffer(readFileSync(statePath)) : undefined;
  const bad = state && badV86State(state);
  if (bad) {
    // A damaged snapshot is dropped: this run boots cold and saves a new one.
    opts.stderr?.write(`imagemounter: ${statePath}: ${bad}; booting cold\n`);
    rmSync(statePath!, { force: true });
    state = undefined;
  }
  const restoring = state !== undefined;
  let guest: V86Guest | undefined;
  const c = consoleSession(opts, started, () => ({ send: (b) => guest!.sendSerial(b), resize: (r, w) => guest!.resizeTerminal(r, w) }), {
    onReady: async () => {
      if (!statePath || restoring) return;
      const t = Date.now();
      const state = await guest!.saveState();
      mkdirSync(dirname(statePath), { recursive: true });
      writeFileSync(`${statePath}.tmp-${process.pid}`, new Uint8Array(state));
      renameSync(`${statePath}.tmp-${process.pid}`, statePath);
      pruneOldest(dirname(statePath), /^state-[0-9a-f]+(-\d+m)?\.bin$/, 2);
      opts.onTiming?.(`snapshot-saved (${(state.byteLength / 2 ** 20).toFixed(0)} MiB in ${Date.now() - t} ms)`, Date.now() - started);
    },
  });
  guest = await startV86({
    files,
    wasmPath: require.resolve('v86/build/v86.wasm'),
    nic: assets.nic,
    memoryMiB,
    ...(state ? { state } : {}),
  });
  c.mark(restoring ? 'restored' : 'boot');
  const link = linkGuestFrames(guest, (t) => opts.session.attach(t));
  // v86 reports the serial line a byte at a time: hand it on in one chunk per turn.
  let out: number[] = [];
  guest.onSerial((b) => {
    if (out.push(b) === 1) setImmediate(() => c.console.push(Uint8Array.from(out.splice(0))));
  });
  if (restoring) {
    // The snapshot was taken at READY: the guest is waiting for its settings line.
    c.console.phase = 'setup';
    c.sendGo();
  }
  try {
    return await c.done;
  } finally {
    c.cleanup();
    link.close();
    await guest.destroy();
    out = [];
  }
}

async function runQemu(opts: RunInVmOptions): Promise<number> {
  const started = Date.now();
  const { assets } = opts;
  const listener = await listenSockets({ kind: 'tcp', host: '127.0.0.1', port: 0 }, (socket) => {
    socket.setNoDelay(true);
    const link = opts.session.attach({ write: (b) => void socket.write(b), close: () => socket.destroy() });
    socket.on('data', (b: Buffer) => link.receive(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    socket.on('close', () => link.end('QEMU disconnected'));
  });
  // The guest's second serial port (terminal sizes): QEMU connects to it as a client.
  let resizeSocket: Socket | undefined;
  const resizeListener = await listenSockets({ kind: 'tcp', host: '127.0.0.1', port: 0 }, (socket) => {
    resizeSocket?.destroy();
    resizeSocket = socket;
    socket.resume(); // nothing comes back but an echo
  });
  const accel = existsSync('/dev/kvm') ? ['-accel', 'kvm', '-accel', 'tcg'] : ['-accel', 'tcg'];
  const args = [
    ...accel,
    '-machine', 'pc',
    '-cpu', 'max',
    '-m', String(opts.memoryMiB ?? 512),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-serial', `tcp:127.0.0.1:${resizeListener.port}`, '-no-reboot',
    '-kernel', assets.kernel,
    '-initrd', assets.initrd,
    '-append', 'console=ttyS0 panic=-1 quiet loglevel=1 cryptomgr.notests=1',
    '-netdev', `socket,id=n0,connect=127.0.0.1:${listener.port}`,
    '-device', 'virtio-net-pci,netdev=n0',
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const c = consoleSession(opts, started, () => ({
    send: (b) => void child.stdin.write(b),
    resize: (rows, cols) => void resizeSocket?.write(resizeLine(rows, cols)),
  }));
  c.mark('boot');
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => c.console.push(new Uint8Array(b.buffer, b.byteOffset, b.length)));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.on('error', () => {}); // QEMU gone: its exit explains
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('error', (e) => c.fail(e));
  child.once('close', (code) =>
    c.fail(new VmRunError(`qemu-system-x86_64 exited (${code}) before the container did: ${Buffer.concat(stderr).toString().trim()}`, 'VM_EXITED', c.console.log)),
  );
  try {
    return await c.done;
  } finally {
    c.cleanup();
    process.off('exit', killOnExit);
    child.kill('SIGKILL');
    resizeSocket?.destroy();
    await Promise.all([listener.close(), resizeListener.close()]);
  }
}
