// Inside the v86 guest: the same commands on our 9P mount (the guest's /init mounts the
// image through our network stack and 9P server exactly as `imagemounter run` does) and
// on the same tree unpacked into v86's own virtio-9p filesystem — the emulator's limit,
// with no network or TCP in the way. One cold boot of an initramfs that also carries
// 9pnet_virtio; the commands run as /init's probe (GoLine.probe), after the mount and
// before the container. Times come from the guest's /proc/uptime (10 ms steps), page
// cache dropped before each command.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { V86, type V86Options } from 'v86';
import type { TarEntry } from '../fixtures/tar.js';
import { mountImage } from '../src/mount.js';
import { createNodeFetch, nodeCodecs } from '../src/node/index.js';
import {
  encodeGoLine, initramfsEntries, linkGuestFrames, MARK, MOUNT_POINT, resolveModules, V86_CMDLINE, writeCpio,
  type GuestKernel, type V86Guest, type VmAssets,
} from '../src/vm/index.js';
import { BIG_FILE, type V86BenchImage } from './v86-image.js';

const require = createRequire(import.meta.url);
const LOCAL = '/mnt/local';
const TIMEOUT_MS = 300_000;
/** V86_BENCH_SERIAL=1: the guest's console on stderr. */
const SHOW_SERIAL = process.env.V86_BENCH_SERIAL === '1';

export interface GuestTiming {
  /** Seconds of each run, by command name. */
  seconds: Record<string, number[]>;
  /** What each command printed (its last round). */
  results: Record<string, string>;
  bootSeconds: number;
}

function probeScript(modules: string[]): string {
  const cat = (dir: string) => `cat ${dir}/${BIG_FILE} >/dev/null && echo read`;
  // Dropping the caches after a find over our 9P clunks thousands of fids over the
  // network (tens of seconds): that find comes last.
  const steps: [string, string][] = [
    ['cat-9p', cat(`${MOUNT_POINT}/rootfs`)],
    ['cat-local', cat(LOCAL)],
    ['cat-9p', cat(`${MOUNT_POINT}/rootfs`)],
    ['cat-local', cat(LOCAL)],
    ['find-local', `find ${LOCAL} | wc -l`],
    ['find-9p', `find ${MOUNT_POINT}/rootfs | wc -l`],
  ];
  return `for m in ${modules.join(' ')}; do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
mkdir -p ${LOCAL}
mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,ro host9p ${LOCAL} || { echo "mount-local failed"; dmesg | tail -n 5; }
now() { cut -d' ' -f1 /proc/uptime; }
t() { sync; echo 3 > /proc/sys/vm/drop_caches; echo "step $1"; a=$(now); r=$(sh -c "$2" 2>&1); b=$(now); echo "T|$1|$a|$b|$r"; }
${steps.map(([name, cmd]) => `t ${name} '${cmd}'`).join('\n')}
`;
}

/** The tree of the image's layer, unpacked into v86's in-memory 9P filesystem. */
async function unpackInto(fs: V86Fs, entries: TarEntry[]): Promise<void> {
  const ids = new Map<string, number>([['', 0]]);
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of sorted) {
    const slash = e.name.lastIndexOf('/');
    const parent = ids.get(e.name.slice(0, Math.max(slash, 0)));
    if (parent === undefined) throw new Error(`no parent for ${e.name}`);
    const name = e.name.slice(slash + 1);
    if (e.type === 'directory') ids.set(e.name, fs.CreateDirectory(name, parent));
    else if (e.type === 'symlink') fs.CreateSymlink(name, parent, e.linkname!);
    else await fs.CreateBinaryFile(name, parent, typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? new Uint8Array(0)));
  }
}

/** The parts of v86's FS (lib/filesystem.js) used here; not in its type declarations. */
interface V86Fs {
  CreateDirectory(name: string, parentId: number): number;
  CreateSymlink(name: string, parentId: number, target: string): number;
  CreateBinaryFile(name: string, parentId: number, data: Uint8Array): Promise<number>;
}

export async function measureInGuest(assets: VmAssets, kernel: GuestKernel, busybox: string, image: V86BenchImage): Promise<GuestTiming> {
  // 9pnet_virtio and what it needs beyond the default guest's modules.
  const have = new Set(resolveModules(kernel.modulesDir, assets.nic === 'virtio' ? ['virtio_pci', 'virtio_net', '9pnet_fd', '9p', 'overlay'] : ['ne2k_pci', '9pnet_fd', '9p', 'overlay']).map((m) => m.name));
  const extra = resolveModules(kernel.modulesDir, ['9pnet_virtio']).filter((m) => !have.has(m.name));
  const extraFiles = Object.fromEntries(extra.map((m) => [`lib/modules/${m.name}.ko`, readFileSync(m.path)]));
  const initrd = gzipSync(writeCpio(initramfsEntries({ kernel, busybox, nic: assets.nic, extraFiles })), { level: 1 });
  const buf = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

  const session = await mountImage({ image: image.dir, platform: 'linux/386', fetch: createNodeFetch(), codecs: nodeCodecs() });
  const t0 = Date.now();
  const emulator = new V86({
    wasm_path: require.resolve('v86/build/v86.wasm'),
    memory_size: 256 << 20,
    vga_memory_size: 2 << 20,
    bios: { buffer: buf(readFileSync(assets.bios!)) },
    vga_bios: { buffer: buf(readFileSync(assets.vgaBios!)) },
    bzimage: { buffer: buf(readFileSync(assets.kernel)) },
    initrd: { buffer: buf(initrd) },
    cmdline: V86_CMDLINE,
    net_device: { type: assets.nic },
    filesystem: {},
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  } as V86Options);
  try {
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    await unpackInto((emulator as unknown as { fs9p: V86Fs }).fs9p, image.entries);
    const guest: V86Guest = {
      emulator,
      onSerial: (l) => emulator.add_listener('serial0-output-byte', l),
      sendSerial: (d) => emulator.serial0_send(typeof d === 'string' ? d : Buffer.from(d).toString('latin1')),
      resizeTerminal: () => {},
      onFrame: (l) => emulator.add_listener('net0-send', l),
      sendFrame: (f) => (emulator as unknown as { bus: { send(n: string, d: unknown): void } }).bus.send('net0-receive', f),
      saveState: () => emulator.save_state(),
      destroy: () => emulator.destroy(),
    };
    const link = linkGuestFrames(guest, (t) => session.attach(t));
    let text = '';
    let bootSeconds = 0;
    const out = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the guest did not finish in ${TIMEOUT_MS / 1000} s:\n${text.slice(-3000)}`)), TIMEOUT_MS);
      guest.onSerial((b) => {
        text += String.fromCharCode(b);
        if (SHOW_SERIAL) process.stderr.write(String.fromCharCode(b));
        if (b !== 10) return;
        if (!bootSeconds && text.includes(MARK.ready)) {
          bootSeconds = (Date.now() - t0) / 1000;
          const line = encodeGoLine({ tty: false, args: ['/bin/sh', '-c', 'true'], time: Math.floor(Date.now() / 1000), probe: probeScript(extra.map((m) => m.name)) });
          for (let i = 0, k = 0; i < line.length; i += 512, k++) setTimeout(() => guest.sendSerial(line.slice(i, i + 512)), k * 5);
        } else if (text.includes(MARK.probeEnd) || text.includes(MARK.errorPrefix)) {
          clearTimeout(timer);
          resolve(text);
        }
      });
    });
    link.close();
    const at = out.indexOf(MARK.probe);
    if (at < 0) throw new Error(`the guest failed before the probe:\n${out.slice(-3000)}`);
    const timing: GuestTiming = { seconds: {}, results: {}, bootSeconds };
    for (const line of out.slice(at).split(/\r?\n/)) {
      const m = /^T\|([^|]+)\|([\d.]+)\|([\d.]+)\|(.*)$/.exec(line);
      if (!m) continue;
      (timing.seconds[m[1]!] ??= []).push(Number(m[3]) - Number(m[2]));
      timing.results[m[1]!] = m[4]!.trim();
    }
    return timing;
  } finally {
    await emulator.destroy();
    session.close();
  }
}

/** What ensureVmAssets built the guest from (its sources.json beside the boot files). */
export function guestSources(assets: VmAssets): { kernel: GuestKernel; busybox: string } {
  return JSON.parse(readFileSync(join(dirname(assets.initrd), 'sources.json'), 'utf8')) as { kernel: GuestKernel; busybox: string };
}
