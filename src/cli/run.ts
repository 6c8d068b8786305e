// `imagemounter run IMAGE [--vm v86|qemu] [-- CMD ARGS…]`: the container on this
// terminal, in the embedded v86 VM (linux/386) or QEMU (linux/amd64), over the same
// virtual network and 9P mount as every other VM. Exits with the container's status.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ImageError, type OpenImageOptions } from '../index.js';
import { mountImage } from '../mount.js';
import { ensureVmAssets, runInVm, type VmAssets } from '../vm/index.js';
import type { CliArgs } from './args.js';
import type { Progress } from './progress.js';

export async function run(image: string, opts: OpenImageOptions, args: CliArgs, progress: Progress): Promise<void> {
  const platform = args.platformGiven ? args.platform : args.vm === 'v86' ? 'linux/386' : 'linux/amd64';
  // The terminal is the container's: the network's and the VM's notes only with --debug.
  const debug = (m: string) => void (args.debug && process.stderr.write(`imagemounter: ${m}\n`));
  let session;
  try {
    session = await mountImage({ ...opts, image, platform, network: { logger: { info: debug, warn: debug } } });
  } catch (e) {
    if (e instanceof ImageError && e.code === 'NO_MATCHING_PLATFORM' && args.vm === 'v86') {
      throw new ImageError('NO_MATCHING_PLATFORM', `${e.message}. The v86 VM runs 32-bit x86 (linux/386) images; use --vm qemu for linux/amd64`);
    }
    throw e;
  }
  try {
    const t = Date.now();
    // Making the assets takes a while the first time: say so on a terminal.
    const assets = await vmAssets(args, (m) => (args.debug ? debug(m) : progress.note(m)));
    debug(`${args.vm}: assets ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const status = await runInVm({
      session,
      assets,
      ...(args.runArgs ? { args: args.runArgs } : {}),
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      debug: args.debug,
      ...(args.noSnapshot ? { snapshotDir: false as const } : {}),
      onTiming: (mark, ms) => debug(`${args.vm}: ${mark} at ${(ms / 1000).toFixed(1)} s`),
    });
    process.exitCode = status;
  } finally {
    session.close();
  }
}

/** Files given on the command line win; the rest come from Debian's packages (made once, cached). */
async function vmAssets(args: CliArgs, log: (m: string) => void): Promise<VmAssets> {
  const given = { kernel: args.kernel, initrd: args.initrd, bios: args.bios };
  for (const [name, path] of Object.entries(given)) if (path && !existsSync(path)) throw new Error(`--${name} ${path}: no such file`);
  const needBios = args.vm === 'v86';
  const complete = given.kernel && given.initrd && (!needBios || given.bios);
  const made = complete ? undefined : await ensureVmAssets({ vm: args.vm, log });
  const bios = given.bios ?? made?.bios;
  return {
    vm: args.vm,
    nic: made?.nic ?? 'virtio',
    kernel: given.kernel ?? made!.kernel,
    initrd: given.initrd ?? made!.initrd,
    ...(needBios ? { bios, vgaBios: given.bios ? vgaBiosBeside(given.bios) : made!.vgaBios } : {}),
  };
}

function vgaBiosBeside(bios: string): string {
  for (const name of ['vgabios-stdvga.bin', 'vgabios.bin']) {
    const p = join(dirname(bios), name);
    if (existsSync(p)) return p;
  }
  throw new Error(`--bios ${bios}: no vgabios-stdvga.bin beside it`);
}
