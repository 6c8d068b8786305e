// Boots the guest under QEMU (TCG: the rig must work without KVM). Its NIC is either on
// QEMU's user-mode network laid out like the c2w virtual network, forwarding the guest's
// connections to 192.168.127.252:80 to a 9P server on the host, or on a QEMU frame stream
// (`-netdev socket,connect=`) to an endpoint that is the whole network (`imagemounter serve`).
import { spawn } from 'node:child_process';
import { MARK_BEGIN, MARK_END, MARK_MOUNT_FAILED } from './init-script.js';

interface GuestBase {
  kernel: string;
  initrd: string;
  timeoutMs: number;
  memoryMiB?: number;
}

/** QEMU's user network (slirp) with a guestfwd of 192.168.127.252:80 to a host 9P server. */
export interface UserNetGuest extends GuestBase {
  serve9p: { host: '127.0.0.1'; port: number };
  /** `nc` (default): one forwarder process per guest connection; `chardev`: QEMU's own socket, one connection only. */
  forward?: 'nc' | 'chardev';
}

/** The NIC's frames go over one TCP connection (4-byte length framing) to a network endpoint on the host. */
export interface FrameStreamGuest extends GuestBase {
  frames: { host: '127.0.0.1'; port: number };
}

export type RunGuestOptions = UserNetGuest | FrameStreamGuest;

export type ExitReason = 'poweroff' | 'timeout' | 'qemu-error';

export interface GuestRun {
  /** Everything the serial console printed (CR removed). */
  output: string;
  exitReason: ExitReason;
  /** Output between the markers, or undefined if the checks never ran to the end. */
  checks?: string;
  /** Exit status of /checks.sh as /init saw it. */
  checksStatus?: number;
  mountFailed: boolean;
  wallMs: number;
}

/**
 * `nc` spawns one busybox `nc` per guest connection (QEMU's `cmd:` form), so the guest may
 * mount more than once (the acceptance checks add a rw probe mount). `chardev` is QEMU's
 * own socket, connected once when QEMU starts (the server must already listen) and good
 * for one guest connection; the benchmark uses it because busybox nc leaves Nagle on,
 * which stalls servers that write a reply in two parts (diod) by 40 ms per reply.
 */
function forwardSpec(opts: UserNetGuest): string {
  const t = opts.serve9p;
  if (opts.forward === 'chardev') return `guestfwd=tcp:192.168.127.252:80-tcp:${t.host}:${t.port}`;
  return `guestfwd=tcp:192.168.127.252:80-cmd:/bin/busybox nc ${t.host} ${t.port}`;
}

function netdev(opts: RunGuestOptions): string {
  // The endpoint must already listen: QEMU connects once at start and exits if refused.
  if ('frames' in opts) return `socket,id=n0,connect=${opts.frames.host}:${opts.frames.port}`;
  return `user,id=n0,net=192.168.127.0/24,host=192.168.127.1,dns=192.168.127.2,dhcpstart=192.168.127.3,${forwardSpec(opts)}`;
}

export function qemuArgs(opts: RunGuestOptions): string[] {
  return [
    '-accel', 'tcg',
    '-machine', 'pc',
    '-cpu', 'max',
    '-m', String(opts.memoryMiB ?? 512),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', opts.kernel,
    '-initrd', opts.initrd,
    // cryptomgr.notests: the crypto self-tests cost seconds under TCG and test nothing of ours.
    '-append', 'console=ttyS0 panic=-1 quiet cryptomgr.notests=1',
    '-netdev', netdev(opts),
    '-device', 'virtio-net-pci,netdev=n0',
  ];
}

function between(output: string): { checks?: string; status?: number } {
  const b = output.indexOf(`${MARK_BEGIN}\n`);
  if (b < 0) return {};
  const rest = output.slice(b + MARK_BEGIN.length + 1);
  const e = rest.indexOf(MARK_END);
  if (e < 0) return {};
  const status = /^ rc=(\d+)/.exec(rest.slice(e + MARK_END.length))?.[1];
  return { checks: rest.slice(0, e), status: status === undefined ? undefined : Number(status) };
}

export function runGuest(opts: RunGuestOptions): Promise<GuestRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', qemuArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      process.off('exit', killOnExit);
      const output = Buffer.concat(chunks).toString('utf8').replaceAll('\r', '');
      const { checks, status } = between(output);
      // -no-reboot: `poweroff -f` (or a panic, since panic=-1 reboots) ends QEMU with status 0.
      const exitReason: ExitReason = timedOut ? 'timeout' : code === 0 ? 'poweroff' : 'qemu-error';
      resolve({ output, exitReason, checks, checksStatus: status, mountFailed: output.includes(MARK_MOUNT_FAILED), wallMs: Date.now() - started });
    });
  });
}

/** The checks' output of a run that went to the end; otherwise an error with both sides' logs. */
export function requireChecks(run: GuestRun, what: string, serverOutput: string): string {
  if (run.exitReason === 'poweroff' && run.checks !== undefined) return run.checks;
  throw new Error(
    `${what}: guest ${run.exitReason} after ${run.wallMs} ms${run.mountFailed ? ' (mount failed)' : ''}:\n${run.output.slice(-4000)}\nserver:\n${serverOutput}`,
  );
}
