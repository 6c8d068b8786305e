// 9P serving seen from a real Linux client: the same QEMU guest (TCG) and transport
// (QEMU user network, guestfwd to a QEMU socket chardev) mount our `serve-9p` and
// Debian's diod exporting the same tree unpacked on disk by umoci. Measured in the guest
// with its caches dropped before each run: sequential read of a 64 MiB file (dd bs=1M)
// and a find+stat walk of the whole tree. Best of ROUNDS; ratios are speed ratios (>1: we
// are faster). See p9-run.ts for why the forward is QEMU's chardev and not nc.
import { startServe9p } from '../test/guest/servers.js';
import { benchRig, measure, measureDiod, printComparison, userNet } from './p9-run.js';

const rig = await benchRig();
const ours = await measure(rig, 'serve-9p', () => startServe9p(rig.image.dir), userNet);
const diod = await measureDiod(rig);
printComparison('9p', rig, { name: 'serve-9p', r: ours }, { name: 'diod', r: diod });
