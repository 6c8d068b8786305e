// Generates the guest's /checks.sh (busybox sh) and parses what it prints. The guest
// only observes and reports; every comparison happens in the test, in TypeScript.
//
// Output lines:  S|rawmode-hex|uid|gid|size|nlink|major-hex|minor-hex|mtime-s|path
//                H|sha256  path          (sha256sum output, one per regular file)
//                L|path|target           (readlink of every symlink)
//                CHECK|name|ok  or  CHECK|name|FAIL|detail
//                FILE|name  …raw lines…  ENDFILE|name   (files copied out verbatim)
import { MOUNT_POINT } from './init-script.js';
import type { ManifestEntry } from '../helpers/tree.js';

export interface CheckOptions {
  /** A regular file of the image, relative to rootfs/, used for write/unlink/rename attempts. */
  existingFile: string;
  /** How to run a shell inside the image: `/bin/sh` or `/bin/busybox sh`. */
  imageShell: string;
  /** Directory whose `ls` must list exactly this many entries. */
  bigDir?: { path: string; count: number };
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The whole tree under \`root\` as the kernel sees it: S, H and L lines (parseReport). Also
 * run on its own by the v86 guest (GoLine.probe), where every fork costs milliseconds:
 * find batches its stat and sha256sum calls.
 */
export function walkScript(root: string = MOUNT_POINT): string {
  return `find ${root} -exec stat -c 'S|%f|%u|%g|%s|%h|%t|%T|%Y|%n' {} +
find ${root} -type f -exec sha256sum {} + | sed 's/^/H|/'
find ${root} -type l | while read -r p; do echo "L|$p|$(readlink "$p")"; done
`;
}

export function checksScript(o: CheckOptions): string {
  const m = MOUNT_POINT;
  const f = `${m}/rootfs/${o.existingFile}`;
  return `
set +e
check() { if [ "$2" = ok ]; then echo "CHECK|$1|ok"; else echo "CHECK|$1|FAIL|$3"; fi; }
# expect_fail NAME MESSAGE CMD…: CMD must fail and its stderr must name MESSAGE.
expect_fail() {
  name=$1; want=$2; shift 2
  if out=$("$@" 2>&1); then check "$name" fail "succeeded: $out"; return; fi
  case "$out" in *"$want"*) check "$name" ok ;; *) check "$name" fail "$out" ;; esac
}
dump() { echo "FILE|$1"; cat "$2"; echo; echo "ENDFILE|$1"; }

# 1. The whole tree as the kernel sees it.
${walkScript(m)}${o.bigDir ? `n=$(ls ${m}/rootfs/${o.bigDir.path} | wc -l); [ "$n" = ${o.bigDir.count} ] && check ls-big-dir ok || check ls-big-dir fail "ls listed $n"` : ''}

# 2. The bundle's config files, as the VM reads them.
dump config.json ${m}/config/config.json
dump imageconfig.json ${m}/config/imageconfig.json

# 3. Read-only mount: the kernel refuses before asking the server.
expect_fail ro-create "Read-only file system" sh -c ${q(`echo x > ${m}/rootfs/new-file`)}
expect_fail ro-write "Read-only file system" sh -c ${q(`echo x >> ${f}`)}
expect_fail ro-unlink "Read-only file system" rm -f ${f}
expect_fail ro-rename "Read-only file system" mv ${f} ${m}/rootfs/renamed
expect_fail ro-chmod "Read-only file system" chmod 600 ${f}
expect_fail ro-mkdir "Read-only file system" mkdir ${m}/rootfs/new-dir
expect_fail enoent "No such file or directory" cat ${m}/rootfs/no/such/file
expect_fail enoent-ls "No such file or directory" ls ${m}/rootfs/no-such-entry

# 4. The server itself refuses changes: a second mount without ro sends them to it.
mkdir -p /run/9p-rw
if mount -t 9p -o trans=tcp,version=9p2000.L,port=80\${ANAME_OPT} 192.168.127.252 /run/9p-rw; then
  r=/run/9p-rw/rootfs
  expect_fail srv-create "Read-only file system" sh -c ${q(`echo x > /run/9p-rw/rootfs/new-file`)}
  expect_fail srv-write "Read-only file system" sh -c ${q(`echo x >> /run/9p-rw/rootfs/${o.existingFile}`)}
  expect_fail srv-unlink "Read-only file system" rm -f $r/${o.existingFile}
  expect_fail srv-rename "Read-only file system" mv $r/${o.existingFile} $r/renamed
  expect_fail srv-chmod "Read-only file system" chmod 600 $r/${o.existingFile}
  expect_fail srv-mkdir "Read-only file system" mkdir $r/new-dir
  expect_fail srv-symlink "Read-only file system" ln -s x $r/new-link
  umount /run/9p-rw
else
  check srv-mount fail "rw mount failed"
fi

# 5. The container root as the c2w VM builds it: rootfs bind-mounted, used as the lower
#    layer of an overlayfs with upper and work dirs on a tmpfs.
mkdir -p /run/bundle-rootfs /run/ovl /run/rootfs
mount --bind ${m}/rootfs /run/bundle-rootfs || check bind fail "bind mount"
mount -t tmpfs tmpfs /run/ovl && mkdir -p /run/ovl/upper /run/ovl/work
if mount -t overlay overlay -o lowerdir=/run/bundle-rootfs,upperdir=/run/ovl/upper,workdir=/run/ovl/work /run/rootfs; then
  out=$(chroot /run/rootfs ${o.imageShell} -c 'echo hi > /written-in-overlay && /bin/busybox cat /written-in-overlay && /bin/busybox ls /' 2>&1)
  case "$out" in hi*written-in-overlay*) check overlay-run ok ;; *) check overlay-run fail "$out" ;; esac
  [ -f /run/ovl/upper/written-in-overlay ] && check overlay-upper ok || check overlay-upper fail "not in upper"
  [ ! -e ${m}/rootfs/written-in-overlay ] && check overlay-lower-untouched ok || check overlay-lower-untouched fail "reached 9P"
  rm /run/rootfs/${o.existingFile} && [ ! -e /run/rootfs/${o.existingFile} ] && [ -f ${f} ] \\
    && check overlay-delete ok || check overlay-delete fail "delete through overlay"
  expect_fail overlay-9p-write "Read-only file system" sh -c ${q(`echo x > ${m}/rootfs/through-9p`)}
  umount /run/rootfs
else
  check overlay-mount fail "$(dmesg | tail -5)"
fi
true
`;
}

/** Every CHECK name the script prints when it runs to the end. */
export function expectedChecks(o: CheckOptions): string[] {
  return [
    ...(o.bigDir ? ['ls-big-dir'] : []),
    'ro-create', 'ro-write', 'ro-unlink', 'ro-rename', 'ro-chmod', 'ro-mkdir', 'enoent', 'enoent-ls',
    'srv-create', 'srv-write', 'srv-unlink', 'srv-rename', 'srv-chmod', 'srv-mkdir', 'srv-symlink',
    'overlay-run', 'overlay-upper', 'overlay-lower-untouched', 'overlay-delete', 'overlay-9p-write',
  ];
}

export interface GuestReport {
  entries: Map<string, ManifestEntry & { mtimeSeconds: number }>;
  checks: Map<string, string>;
  files: Map<string, string>;
}

const TYPES: Record<number, ManifestEntry['type']> = {
  0o040000: 'dir', 0o100000: 'reg', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket',
};

/** Mount paths become the manifest's paths: /run/9pbundle → /, /run/9pbundle/rootfs/x → /rootfs/x. */
function served(p: string): string {
  return p === MOUNT_POINT ? '/' : p.slice(MOUNT_POINT.length);
}

export function parseReport(text: string): GuestReport {
  const entries: GuestReport['entries'] = new Map();
  const checks = new Map<string, string>();
  const files = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('S|')) {
      const [, raw, uid, gid, size, nlink, maj, min, mtime, ...name] = line.split('|');
      const mode = parseInt(raw!, 16);
      const type = TYPES[mode & 0o170000];
      if (!type) throw new Error(`unknown file type in ${line}`);
      const e: ManifestEntry & { mtimeSeconds: number } = {
        path: served(name.join('|')), type, mode: (mode & 0o7777).toString(8).padStart(4, '0'),
        uid: Number(uid), gid: Number(gid), size: Number(size), nlink: Number(nlink), mtime: '', mtimeSeconds: Number(mtime),
      };
      if (type === 'char' || type === 'block') e.rdev = `${parseInt(maj!, 16)},${parseInt(min!, 16)}`;
      entries.set(e.path, e);
    } else if (line.startsWith('H|')) {
      const m = /^H\|([0-9a-f]{64}) {2}(.*)$/.exec(line);
      if (!m) throw new Error(`bad hash line ${line}`);
      const e = entries.get(served(m[2]!));
      if (e) e.sha256 = m[1];
      else throw new Error(`hash for unlisted ${m[2]}`);
    } else if (line.startsWith('L|')) {
      const [, p, ...target] = line.split('|');
      const e = entries.get(served(p!));
      if (!e) throw new Error(`link for unlisted ${p}`);
      e.linkTarget = target.join('|');
    } else if (line.startsWith('CHECK|')) {
      const [, name, status, ...detail] = line.split('|');
      checks.set(name!, status === 'ok' ? 'ok' : `FAIL ${detail.join('|')}`);
    } else if (line.startsWith('FILE|')) {
      const name = line.slice(5);
      const end = lines.indexOf(`ENDFILE|${name}`, i);
      if (end < 0) throw new Error(`unterminated FILE|${name}`);
      // dump() adds one newline after the file so the end marker starts a line.
      files.set(name, lines.slice(i + 1, end).join('\n').replace(/\n$/, ''));
      i = end;
    }
  }
  return { entries, checks, files };
}
