// The whole VM path through our virtual network: the guest of p9.bench.ts with its NIC on
// `imagemounter serve` (our Ethernet/ARP/DHCP/TCP stack in user space, then 9P), against
// QEMU's own user network (slirp, native C) forwarding to Debian's diod — the setup a VM
// would otherwise use. Same image, same guest-side measurements (64 MiB sequential read,
// find+stat walk, caches dropped, best of ROUNDS); ratios >1 mean `serve` is faster.
// NET_BENCH_PROF=DIR writes a V8 CPU profile of the serve process into DIR.
import { startServe } from '../test/guest/servers.js';
import { benchRig, measure, measureDiod, printComparison } from './p9-run.js';

const prof = process.env.NET_BENCH_PROF;
const rig = await benchRig();
const ours = await measure(
  rig,
  'serve',
  () => startServe(rig.image.dir, [], prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
  (port) => ({ frames: { host: '127.0.0.1', port } }),
);
const diod = await measureDiod(rig);
printComparison('virtual network + 9p vs QEMU user network + diod', rig, { name: 'serve', r: ours }, { name: 'diod', r: diod });
