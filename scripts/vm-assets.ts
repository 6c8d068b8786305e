// npm run vm-assets [-- --vm v86|qemu|all]: makes the guest's boot files from Debian's
// packages (apt-get download + dpkg -x; i386 enabled in dpkg when missing) under .cache/vm,
// asking apt for newer packages. `imagemounter run` makes them on first use too.
import { parseArgs } from 'node:util';
import { ensureVmAssets, type VmKind } from '../src/vm/index.js';

const { values } = parseArgs({ options: { vm: { type: 'string', default: 'v86' } } });
const kinds: VmKind[] = values.vm === 'all' ? ['v86', 'qemu'] : [values.vm as VmKind];
for (const vm of kinds) {
  if (vm !== 'v86' && vm !== 'qemu') {
    process.stderr.write(`vm-assets: --vm ${vm}: expected v86, qemu or all\n`);
    process.exit(2);
  }
  const t0 = Date.now();
  try {
    const assets = await ensureVmAssets({ vm, refresh: true, log: (m) => process.stderr.write(`${m}\n`) });
    process.stdout.write(`${vm}: ${JSON.stringify(assets)} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  } catch (e) {
    process.stderr.write(`vm-assets: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
