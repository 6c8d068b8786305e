// The guest's /init and udhcpc hook. /init repeats the c2w VM's first steps exactly
// (DESIGN.md "What the VM does"): link up, DHCP, the very same 9P mount command; then it
// runs the test's /checks.sh and prints its output between markers on the serial console.

// The VM's steps are the embedded VM's (src/vm): one copy of the mount command and the
// udhcpc hook.
export { MOUNT_COMMAND, MOUNT_POINT, UDHCPC_SCRIPT } from '../../src/vm/init-script.js';
import { EARLY_MOUNTS, MOUNT_COMMAND, MOUNT_POINT } from '../../src/vm/init-script.js';

// Long, odd strings no kernel message or check output can produce by accident.
export const MARK_BEGIN = '@@IMAGEMOUNTER-GUEST-CHECKS-BEGIN@@';
export const MARK_END = '@@IMAGEMOUNTER-GUEST-CHECKS-END@@';
export const MARK_MOUNT_FAILED = '@@IMAGEMOUNTER-GUEST-MOUNT-FAILED@@';

/**
 * `modules` are file names under /lib/modules in load order (dependencies first).
 * `aname` exists for diod only: it refuses an attach whose aname is not one of its
 * exports, while the c2w VM sends none. Our server always gets the exact VM command.
 */
export function initScript(modules: string[], aname?: string): string {
  const mount = aname ? MOUNT_COMMAND.replace(',ro ', `,ro,aname=${aname} `) : MOUNT_COMMAND;
  // Extra mounts made by the checks (rw probe, benchmark remounts) need the same aname.
  const anameOpt = aname ? `,aname=${aname}` : '';
  return `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
${EARLY_MOUNTS}
# Kernel messages below "emergency" stay off the console so they cannot split result lines.
dmesg -n 1
export ANAME_OPT='${anameOpt}'
for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m || echo "insmod $m failed"
done
t0=$(cut -d' ' -f1 /proc/uptime)
ip link set dev eth0 up
udhcpc -i eth0
mkdir -p ${MOUNT_POINT} && ${mount}
rc=$?
echo "guest: booted and mounted at \${t0}s/$(cut -d' ' -f1 /proc/uptime)s uptime, mount rc=$rc"
if [ $rc -ne 0 ]; then
  echo "${MARK_MOUNT_FAILED}"
  ip addr; ip route
else
  echo "${MARK_BEGIN}"
  sh /checks.sh 2>&1
  echo "${MARK_END} rc=$?"
fi
sync
poweroff -f
`;
}
