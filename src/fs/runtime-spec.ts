// The OCI runtime spec served as config/config.json: containerd's default Linux spec
// with the image config applied, minus the network namespace (the container shares the
// VM's network) and minus seccomp, as the c2w VM expects.

import type { ImageConfig } from '../../oci/types.js';
import { parseGroup, parsePasswd, resolveUser } from './passwd.js';
import type { Tree } from './tree.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** containerd's default capability set (oci/spec_opts defaultUnixCaps). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: {
    resources: { devices: { allow: boolean; access: string }[] };
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
  annotations?: Record<string, string>;
}

/**
 * Build the runtime spec. /etc/passwd and /etc/group are read through `rootfs` (symlinks
 * followed inside it; lazily pulled layers fetch them over the network).
 * Throws ImageError UNKNOWN_USER / UNKNOWN_GROUP when `User` names what the image lacks.
 */
export async function generateRuntimeSpec(config: ImageConfig, rootfs: Tree): Promise<RuntimeSpec> {
  const [passwd, group] = await Promise.all([readText(rootfs, '/etc/passwd'), readText(rootfs, '/etc/group')]);
  return buildSpec(config, passwd, group);
}

export function buildSpec(config: ImageConfig, passwd: string, group: string): RuntimeSpec {
  const c = config.config ?? {};
  const user = resolveUser(c.User ?? '', parsePasswd(passwd), parseGroup(group));
  // An empty command is no valid runc process; a shell is what `docker run -it` users expect.
  let args = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (args.length === 0) args = ['/bin/sh'];
  // Like containerd: the default PATH comes first unless the image sets one; like Docker
  // with a tty, TERM defaults to xterm since the process gets a terminal.
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const nosuid = ['nosuid', 'noexec', 'nodev'];
  return {
    ociVersion: '1.1.0',
    process: {
      terminal: true,
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args,
      env,
      cwd: c.WorkingDir || '/',
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: false,
    },
    root: { path: '/run/rootfs', readonly: false },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: [...nosuid] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...nosuid, 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: [...nosuid] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...nosuid, 'ro'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      // Deny-all device cgroup; runc then allows its default device set, as with containerd.
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      // No network namespace: the container uses the VM's network.
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/sys/devices/virtual/powercap',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

const decoder = new TextDecoder();

/** A regular file's text, '' when absent (an image without /etc/passwd is common). */
async function readText(tree: Tree, path: string): Promise<string> {
  const node = tree.resolve(path);
  if (node?.type !== 'reg') return '';
  return decoder.decode(await tree.read(node, 0, node.size));
}
