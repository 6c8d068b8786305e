// The guest's /init: the c2w VM's steps (DESIGN.md "What the VM does") followed by
// running the container on the serial console. Isomorphic: strings only.
//
// Console protocol with the host (markers are printed alone, so no output can fake them):
//   guest: @@IMAGEMOUNTER-READY@@     modules loaded, waiting for one line; the boot
//                                     snapshot is taken here
//   host:  go_tty=true go_args=…\n    the run's settings as one line of shell assignments
//                                     (printable ASCII only), see GoLine
//   guest: @@IMAGEMOUNTER-PROBE@@ …   with GoLine.probe: that command's output, after the
//          @@IMAGEMOUNTER-PROBE-END@@ mount and before the container (a test's walk of the tree)
//   guest: @@IMAGEMOUNTER-START@@     network up, bundle mounted, container starting:
//                                     everything after it is the container's output
//   guest: @@IMAGEMOUNTER-EXIT n@@    the container exited with status n (then poweroff)
//   guest: @@IMAGEMOUNTER-ERROR msg@@ setting up failed (DHCP, mount, config.json)
// Terminal sizes go on the second serial port (RESIZE_TTY), any time after READY.

export const MOUNT_POINT = '/run/9pbundle';
/** The c2w VM's mount, character for character. */
export const MOUNT_COMMAND = `mount -t 9p -o trans=tcp,version=9p2000.L,msize=5000000,port=80,cache=loose,ro 192.168.127.252 ${MOUNT_POINT}`;

/** /init's first lines in every guest of ours (this one and the test rig's): the kernel's filesystems and two tmpfs. */
export const EARLY_MOUNTS = `mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /etc && mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run`;

/** The guest's second serial port: the host writes terminal sizes there (resizeLine). */
export const RESIZE_TTY = '/dev/ttyS1';

/** A terminal size for RESIZE_TTY. */
export function resizeLine(rows: number, cols: number): string {
  return `${Math.max(1, Math.floor(rows))} ${Math.max(1, Math.floor(cols))}\n`;
}

export const MARK = {
  ready: '@@IMAGEMOUNTER-READY@@',
  start: '@@IMAGEMOUNTER-START@@',
  probe: '@@IMAGEMOUNTER-PROBE@@',
  probeEnd: '@@IMAGEMOUNTER-PROBE-END@@',
  exitPrefix: '@@IMAGEMOUNTER-EXIT ',
  errorPrefix: '@@IMAGEMOUNTER-ERROR ',
  end: '@@',
} as const;

/** Where the JSON reader lives in the initramfs. */
export const JSON_AWK_PATH = 'lib/imagemounter/json.awk';

/** The settings the host sends when the guest is ready. */
export interface GoLine {
  /** Replaces the spec's process.args (`run IMAGE -- CMD ARGS`). */
  args?: string[];
  /** The host's stdin is a terminal: keep echo and line editing in the guest tty. */
  tty: boolean;
  rows?: number;
  cols?: number;
  /** The host's clock (seconds since the epoch): a restored snapshot has the snapshot's time. */
  time?: number;
  /** Print each set-up step with the guest's uptime. */
  debug?: boolean;
  /**
   * Keep the tty's LF → CR LF output mapping: for a terminal that does not add its own
   * CR (xterm.js in the page). A Node host terminal in raw mode adds it, and piped
   * output wants bare LF.
   */
  onlcr?: boolean;
  /**
   * A shell command run once the bundle is mounted, before the container, with its
   * output between MARK.probe and MARK.probeEnd: how tests and benchmarks look at the
   * mounted tree (/run/9pbundle) from the guest's own side.
   */
  probe?: string;
}

/**
 * A word that busybox sh reads back as exactly the UTF-8 bytes of `s`: printable ASCII
 * inside '…', the quote as \', every other byte as $'\ooo'. NUL, which no argv or
 * environment can hold, is dropped.
 */
export function shellWord(s: string): string {
  let out = '';
  let plain = '';
  for (const b of new TextEncoder().encode(s)) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x27) {
      plain += String.fromCharCode(b);
      continue;
    }
    if (plain) out += `'${plain}'`;
    plain = '';
    if (b === 0x27) out += "\\'";
    else if (b !== 0) out += `$'\\${b.toString(8).padStart(3, '0')}'`;
  }
  return out + (plain || !out ? `'${plain}'` : '');
}

/**
 * The settings line: shell assignments (go_tty=… go_args=…) that /init evals, one line
 * of printable ASCII, so no tty setting can alter it. A JSON line would need a parser,
 * and the guest's (busybox awk) costs a second under emulation. go_args holds the
 * command as quoted words, for `eval "set -- $go_args"`.
 */
export function encodeGoLine(go: GoLine): string {
  const vars: [string, string | number | boolean | undefined][] = [
    ['tty', go.tty],
    ['rows', go.rows],
    ['cols', go.cols],
    ['time', go.time],
    ['debug', go.debug],
    ['onlcr', go.onlcr],
    ['probe', go.probe],
    ['args', go.args?.map(shellWord).join(' ')],
  ];
  return vars.flatMap(([k, v]) => (v === undefined ? [] : [`go_${k}=${shellWord(String(v))}`])).join(' ') + '\n';
}

/** busybox udhcpc's hook (same semantics as busybox's examples/udhcp/simple.script): address, default route, DNS. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    if [ -n "$router" ]; then
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
`;

/**
 * /init for the guest. `modules`: module names in load order (dependencies first), each
 * at /lib/modules/NAME.ko.
 *
 * The container process: `nsenter -r ROOT -w ROOT/CWD -S UID -G GID` chroots, changes
 * directory and drops to the spec's user in one exec (busybox has no chroot --userspec
 * and its setpriv cannot change ids); `env -i` gives it exactly process.env; `setsid
 * cttyhack` makes the serial line its controlling terminal. A bare command name is
 * resolved in the image with the spec's PATH, as runc does, so busybox's own applets
 * never stand in for the image's programs. additionalGids are not applied (nsenter
 * clears the supplementary groups).
 */
export function initScript(modules: readonly string[]): string {
  const spec = [
    'args=process.args:w',
    'env=process.env:w',
    'cwd=process.cwd:s',
    'uid=process.user.uid:s',
    'gid=process.user.gid:s',
    'hostname=hostname:s',
    'root=root.path:s',
  ].join(' ');
  return `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
${EARLY_MOUNTS}
# Kernel messages below "emergency" stay off the console: it is the container's terminal.
dmesg -n 1
for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "imagemounter: insmod $m failed"
done
fail() { echo "${MARK.errorPrefix}$*${MARK.end}"; sync; poweroff -f; sleep 60; }

# What does not depend on the image is made before the snapshot: the mount points, the
# overlay's tmpfs, and the container's /dev directories (every devtmpfs mount shows the
# same tree). Under emulation each command costs tens of milliseconds after a restore.
mkdir -p ${MOUNT_POINT} /run/image-rootfs /run/rootfs /run/overlay /dev/pts /dev/shm /dev/mqueue
mount -t tmpfs tmpfs /run/overlay && mkdir -p /run/overlay/upper /run/overlay/work

# Terminal size changes come as "ROWS COLS" lines on the second serial port; stty on the
# console passes each on to the container (the kernel sends it SIGWINCH). A VM without
# that port: the loop is never started.
if stty -F ${RESIZE_TTY} -echo -icrnl 2>/dev/null; then
  (while read -r rows cols; do
    case "$rows$cols" in *[!0-9]*|'') continue ;; esac
    stty -F /dev/ttyS0 rows "$rows" cols "$cols"
  done <${RESIZE_TTY}) >/dev/null 2>&1 &
fi

# The host's settings: one line, not echoed. A boot snapshot resumes here.
stty -echo -icanon
echo "${MARK.ready}"
read -r go
case "$go" in
  go_tty=*) eval "$go" || fail "bad settings line: $go" ;;
  *) fail "bad settings line: $go" ;;
esac
[ -n "$go_time" ] && date -s "@$go_time" >/dev/null 2>&1
step() { [ "$go_debug" = true ] && read -r up _ </proc/uptime && echo "guest: $* ($up s uptime)"; }
step settings read

# The c2w VM's steps.
ip link set dev eth0 up
udhcpc -i eth0 >/run/udhcpc.log 2>&1 || fail "udhcpc: $(tail -n 3 /run/udhcpc.log)"
step DHCP done
${MOUNT_COMMAND} || fail "9P mount of 192.168.127.252 failed"
step mounted
if [ -n "$go_probe" ]; then
  echo "${MARK.probe}"
  (cd / && sh -c "$go_probe") </dev/null
  echo "${MARK.probeEnd}"
  step probe done
fi
config=${MOUNT_POINT}/config/config.json
vars=$(awk -f /${JSON_AWK_PATH} -v spec='${spec}' $config) || fail "cannot read $config"
eval "$vars"
step config.json read
root=\${root:-/run/rootfs}
[ -d "$root" ] || mkdir -p "$root"
# Mounts go through fstab files, one mount command each (paths escaped as fstab wants).
r=\${root// /\\\\040}
printf '%s\\n' \\
  "${MOUNT_POINT}/rootfs /run/image-rootfs none bind 0 0" \\
  "overlay $r overlay lowerdir=/run/image-rootfs,upperdir=/run/overlay/upper,workdir=/run/overlay/work 0 0" >/run/rootfs.fstab
mount -a -T /run/rootfs.fstab >/run/mount.log 2>&1 || fail "bind or overlay mount of the rootfs failed: $(tail -n 2 /run/mount.log)"

# The spec's default mounts (a devtmpfs stands in for the /dev tmpfs and its nodes).
for d in proc dev sys run tmp; do [ -d "$root/$d" ] || mkdir -p "$root/$d"; done
printf '%s\\n' \\
  "proc $r/proc proc defaults 0 0" \\
  "devtmpfs $r/dev devtmpfs defaults 0 0" \\
  "devpts $r/dev/pts devpts newinstance,ptmxmode=0666,mode=0620 0 0" \\
  "shm $r/dev/shm tmpfs mode=1777 0 0" \\
  "mqueue $r/dev/mqueue mqueue defaults 0 0" \\
  "sysfs $r/sys sysfs ro 0 0" \\
  "tmpfs $r/run tmpfs mode=755 0 0" >/run/container.fstab
# devpts and mqueue are optional (kernels without them still run the container).
mount -a -T /run/container.fstab >/run/mount.log 2>&1
if [ -d "$root/etc" ] && [ ! -L "$root/etc/resolv.conf" ]; then
  while IFS= read -r l; do printf '%s\\n' "$l"; done </etc/resolv.conf >"$root/etc/resolv.conf" 2>/dev/null
fi
[ -n "$hostname" ] && hostname "$hostname"
step container mounts done

[ -n "\${go_args+set}" ] && args=$go_args
eval "set -- $args"
[ $# -gt 0 ] || fail "no command: process.args is empty"
# Resolve a bare command name with the container's PATH, inside its root.
cpath=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
eval "for e in $env; do case \\"\\$e\\" in PATH=*) cpath=\\"\\\${e#PATH=}\\";; esac; done"
case "$1" in
  */*) ;;
  *) old_ifs=$IFS; IFS=:
     for d in $cpath; do
       p="$root$d/$1"
       if [ -L "$p" ] || { [ -f "$p" ] && [ -x "$p" ]; }; then cmd="$d/$1"; shift; set -- "$cmd" "$@"; break; fi
     done
     IFS=$old_ifs ;;
esac
cwd=\${cwd:-/}
[ -d "$root$cwd" ] || mkdir -p "$root$cwd"

# Bare LF line ends on the way out (a host terminal adds its own CR), unless asked.
nl=-onlcr
[ "$go_onlcr" = true ] && nl=onlcr
if [ "$go_tty" = true ]; then
  stty sane $nl \${go_rows:+rows $go_rows} \${go_cols:+cols $go_cols}
else
  # Piped stdin: not echoed.
  stty sane -echo $nl
fi
echo "${MARK.start}"
eval "(exec setsid cttyhack /bin/env -i $env /bin/nsenter -r\\"\\$root\\" -w\\"\\$root\\$cwd\\" -S \\"\\$uid\\" -G \\"\\$gid\\" -- \\"\\$@\\") &"
wait $!
rc=$?
stty -echo
echo "${MARK.exitPrefix}$rc${MARK.end}"
sync
poweroff -f
`;
}
