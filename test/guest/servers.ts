// What the guest talks to: our 9P server (`imagemounter serve-9p`, reached through QEMU's
// user network), our whole virtual network (`imagemounter serve`, QEMU's NIC connected to
// it) and Debian's diod (a native C 9P2000.L server) exporting the same tree unpacked on
// disk. All listen on 127.0.0.1 before QEMU starts, and all stop with SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, run, spawnTracked, stopProcess, tempDir } from '../helpers/procs.js';
import { REPO } from '../helpers/fixtures.js';

export interface Running9p {
  kind: 'serve-9p' | 'serve' | 'diod';
  port: number;
  stop(): Promise<void>;
  /** Server output so far, for failure messages. */
  output(): string;
}

function waitFor(child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(output());
      if (m) done(() => resolve(m));
    };
    const onExit = () => done(() => reject(new Error(`${what} exited before it was ready:\n${output()}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${output()}`))), timeoutMs);
    const done = (f: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      f();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/** `imagemounter COMMAND IMAGE --listen tcp:127.0.0.1:0`, ready once it prints `listening tcp:HOST:PORT`. */
async function startCli(kind: 'serve-9p' | 'serve', image: string, extraArgs: string[], nodeArgs: string[]): Promise<Running9p> {
  const { child, output } = spawnTracked(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', kind, image, '--listen', 'tcp:127.0.0.1:0', ...extraArgs],
    { cwd: REPO },
  );
  // Only stdout carries the line; the whole output is searched so a stray stderr line does not hide it.
  const m = await waitFor(child, output, /^listening tcp:127\.0\.0\.1:(\d+)$/m, 120_000, kind);
  return { kind, port: Number(m[1]), stop: () => stopProcess(child), output };
}

/** Plain 9P on a host port: the guest reaches it through QEMU's user network. */
export function startServe9p(image: string, extraArgs: string[] = [], nodeArgs: string[] = []): Promise<Running9p> {
  return startCli('serve-9p', image, extraArgs, nodeArgs);
}

/**
 * The virtual network on a host port: QEMU's NIC connects there (`frames` in qemu.ts).
 * It logs each DHCP lease and TCP connection on stderr (see `output()`). `nodeArgs` go
 * to node, e.g. `--cpu-prof` for profiling.
 */
export function startServe(image: string, extraArgs: string[] = [], nodeArgs: string[] = []): Promise<Running9p> {
  return startCli('serve', image, extraArgs, nodeArgs);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * diod exporting `dir` (which holds rootfs/ and config/), read-only like our server, no
 * authentication. The export goes through a config file because `-o ro` on the command
 * line did not make diod refuse writes; diod cannot listen on port 0, so a free port is
 * picked first.
 */
export async function startDiod(dir: string): Promise<Running9p> {
  const port = await freePort();
  const conf = join(tempDir('diod-conf'), 'diod.conf');
  writeFileSync(conf, `auth_required = 0\nlisten = { "127.0.0.1:${port}" }\nexports = { { path = "${dir}", opts = "ro" } }\n`);
  const { child, output } = spawnTracked('diod', ['-f', '-c', conf, '-L', 'stderr']);
  // diod logs nothing when it is ready, so poll the port.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`diod exited ${child.exitCode}:\n${output()}`);
    if (await canConnect(port)) break;
    {
      if (Date.now() > deadline) throw new Error(`diod not listening on ${port}:\n${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { kind: 'diod', port, stop: () => stopProcess(child), output };
}

/**
 * The 9P tree of DESIGN.md laid out on disk for diod: `rootfs/` from `umoci unpack` of an
 * OCI layout, `config/config.json` and `config/imageconfig.json` as our server makes them
 * (read through the library), so both servers serve identical bytes. Cached under
 * .cache/guest/diod keyed by the layout's index and the config bytes: a stable path keeps
 * the initramfs (which names it as aname) cached too. diod exports it read-only.
 */
export async function unpackForDiod(
  layoutDir: string,
  tag: string,
  configFiles: Record<'config.json' | 'imageconfig.json', Uint8Array>,
  cacheDir = join(REPO, '.cache/guest/diod'),
): Promise<string> {
  const h = createHash('sha256').update(readFileSync(join(layoutDir, 'index.json'))).update(tag);
  for (const bytes of Object.values(configFiles)) h.update(bytes);
  const entry = join(cacheDir, h.digest('hex').slice(0, 24));
  const exp = join(entry, 'export');
  if (existsSync(join(entry, 'done'))) return exp;
  const tmp = `${entry}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'export', 'config'), { recursive: true });
  try {
    await run('umoci', ['unpack', '--image', `${layoutDir}:${tag}`, join(tmp, 'bundle')]);
    renameSync(join(tmp, 'bundle', 'rootfs'), join(tmp, 'export', 'rootfs'));
    rmSync(join(tmp, 'bundle'), { recursive: true, force: true });
    for (const [name, bytes] of Object.entries(configFiles)) {
      writeFileSync(join(tmp, 'export', 'config', name), bytes);
      // Our server shows the generated config files read-only (0444); match it.
      chmodSync(join(tmp, 'export', 'config', name), 0o444);
    }
    chmodSync(join(tmp, 'export'), 0o755);
    chmodSync(join(tmp, 'export', 'config'), 0o755);
    writeFileSync(join(tmp, 'done'), '');
    rmSync(entry, { recursive: true, force: true });
    renameSync(tmp, entry);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(entry, 'done'))) throw e;
  }
  return exp;
}

/**
 * config/config.json and config/imageconfig.json exactly as our library serves them,
 * for the diod copy of the tree. Imported lazily: the library is being worked on while
 * the rig must keep loading.
 */
export async function readBundleConfig(layoutDir: string): Promise<Record<'config.json' | 'imageconfig.json', Uint8Array>> {
  const { openImage } = await import('../../src/index.js');
  const { createNodeFetch, nodeCodecs } = await import('../../src/node/index.js');
  const { tree } = await openImage(layoutDir, { fetch: createNodeFetch(), codecs: nodeCodecs() });
  const read = async (path: string): Promise<Uint8Array> => {
    const inode = tree.lookup(path);
    if (!inode) throw new Error(`${path} not in the served tree`);
    return await tree.read(inode, 0, inode.size);
  };
  return { 'config.json': await read('/config/config.json'), 'imageconfig.json': await read('/config/imageconfig.json') };
}
