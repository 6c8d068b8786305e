// The embedded VM (issue 8): guest assets from Debian's packages, the guest's /init, v86
// in-process and QEMU as a child, and `run`: a mounted image's container on a serial console.
//
// Isomorphic parts (a browser worker may import these files directly): cpio.ts,
// json-awk.ts, init-script.ts, console.ts, v86-state.ts, v86.ts. The rest is Node only.
export { writeCpio, type CpioEntry } from './cpio.js';
export { JSON_AWK } from './json-awk.js';
export { initScript, encodeGoLine, resizeLine, RESIZE_TTY, MARK, MOUNT_COMMAND, MOUNT_POINT, UDHCPC_SCRIPT, JSON_AWK_PATH, type GoLine } from './init-script.js';
export { GuestConsole, type ConsoleEvents, type ConsolePhase } from './console.js';
export { badV86State } from './v86-state.js';
export { startV86, linkGuestFrames, V86_CMDLINE, V86_MACHINE, type Nic, type V86BootFiles, type V86Guest, type V86GuestOptions } from './v86.js';
export { resolveModules, moduleDepends, type KernelModule } from './modules.js';
export { ensureDebianKernel, ensureDebianPackage, VmAssetError, type GuestKernel, type KernelFlavour, type ExtractedPackage } from './debian.js';
export {
  ensureVmAssets, ensureGuestBusybox, buildInitramfs, initramfsEntries, defaultVmCacheDir, VM_PACKAGES,
  type VmAssets, type VmAssetOptions, type VmKind,
} from './assets.js';
export { runInVm, VmRunError, type RunInVmOptions } from './run.js';
