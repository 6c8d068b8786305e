// The guest side of the 9P benchmark: a /checks.sh that, per round, empties the guest's
// caches (`drop_caches`: page cache, and the 9P dentries/inodes cache=loose keeps) and
// then times a sequential read of the big file and a find+stat walk of the whole tree on
// the VM's own mount, printing `BENCH|name|seconds` lines. One mount per boot: QEMU's
// socket forward (see qemu.ts) carries a single connection. Time comes from /proc/uptime
// (10 ms steps; busybox date has no %N): the spans last seconds under TCG.
import { MOUNT_POINT } from '../test/guest/init-script.js';

export function benchScript(bigPath: string, rounds: number): string {
  const m = MOUNT_POINT;
  return `
set +e
now() { cut -d' ' -f1 /proc/uptime; }
span() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fresh() { sync; echo 3 > /proc/sys/vm/drop_caches; }
grep " ${m} " /proc/mounts | sed 's/^/MOUNT|/'
i=0
while [ $i -lt ${rounds} ]; do
  i=$((i + 1))
  fresh
  t0=$(now); dd if=${m}/rootfs/${bigPath} of=/dev/null bs=1M 2>/dev/null; rc=$?; t1=$(now)
  [ $rc = 0 ] && echo "BENCH|read|$(span $t0 $t1)" || echo "BENCH|error|read rc=$rc"
  fresh
  t0=$(now); n=$(find ${m} -exec stat -c %i {} + | wc -l); t1=$(now)
  echo "BENCH|walk-entries|$n"
  echo "BENCH|walk|$(span $t0 $t1)"
done
`;
}

export interface BenchResult {
  read: number[];
  walk: number[];
  walkEntries: number;
  mountLine: string;
  errors: string[];
}

export function parseBench(text: string): BenchResult {
  const r: BenchResult = { read: [], walk: [], walkEntries: 0, mountLine: '', errors: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith('MOUNT|')) r.mountLine = line.slice(6);
    const [tag, name, value] = line.split('|');
    if (tag !== 'BENCH' || !name || value === undefined) continue;
    if (name === 'read' || name === 'walk') r[name].push(Number(value));
    else if (name === 'walk-entries') r.walkEntries = Number(value);
    else r.errors.push(value);
  }
  return r;
}
