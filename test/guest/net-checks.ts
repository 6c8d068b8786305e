// Guest-side checks of the virtual network itself (run after checks.ts's script when the
// NIC is on `imagemounter serve`): what DHCP configured, the NIC's MAC, and ICMP echo to
// the gateway and the 9P server. Lines: NET|addr|…, NET|route|…, NET|mac|…, and
// CHECK|ping-gateway / CHECK|ping-9p (checks.ts's format, so mountTests sees failures).
import { MOUNT_POINT } from './init-script.js';

export const NET_CHECKS = ['ping-gateway', 'ping-9p', 'dns-fast'];

export function netChecksScript(): string {
  // `ping` exits 0 on a single reply; the test wants every one of the three.
  const ping = (name: string, ip: string) => `
out=$(ping -c 3 -W 2 ${ip} 2>&1)
case "$out" in *"3 packets received"*) check ${name} ok ;; *) check ${name} fail "$(echo $out)" ;; esac`;
  return `
ip -4 addr show dev eth0 | sed -n 's/^ *inet /NET|addr|/p'
ip route | sed 's/^/NET|route|/'
echo "NET|mac|$(cat /sys/class/net/eth0/address)"
${ping('ping-gateway', '192.168.127.1')}
${ping('ping-9p', '192.168.127.252')}
# The gateway is the lease's DNS server with no upstream: it must refuse at once, not let
# every lookup in the VM time out (busybox nslookup waits seconds per unanswered try).
t0=$(cut -d' ' -f1 /proc/uptime); nslookup example.com 192.168.127.1 >/dev/null 2>&1; t1=$(cut -d' ' -f1 /proc/uptime)
awk -v a=$t0 -v b=$t1 'BEGIN { exit !(b - a < 2) }' && check dns-fast ok || check dns-fast fail "nslookup took $t0..$t1 s"
true
`;
}

export interface GuestNet {
  /** `inet` lines of eth0 without the keyword, e.g. `192.168.127.3/24 brd … scope global eth0`. */
  addr: string[];
  routes: string[];
  mac: string;
}

export function parseNet(text: string): GuestNet {
  const r: GuestNet = { addr: [], routes: [], mac: '' };
  for (const line of text.split('\n')) {
    const [tag, kind, ...rest] = line.split('|');
    if (tag !== 'NET') continue;
    const value = rest.join('|').trim();
    if (kind === 'addr') r.addr.push(value);
    else if (kind === 'route') r.routes.push(value);
    else if (kind === 'mac') r.mac = value;
  }
  return r;
}

/** Hashes one file of the image and times it: `BIG|sha256|seconds`. */
export function hashFileScript(path: string): string {
  return `
t0=$(cut -d' ' -f1 /proc/uptime)
h=$(sha256sum ${MOUNT_POINT}/rootfs/${path})
t1=$(cut -d' ' -f1 /proc/uptime)
echo "BIG|\${h%% *}|$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }')"
`;
}

export function parseHashFile(text: string): { sha256: string; seconds: number } | undefined {
  const m = /^BIG\|([0-9a-f]{64})\|([\d.]+)$/m.exec(text);
  return m ? { sha256: m[1]!, seconds: Number(m[2]) } : undefined;
}
