// container2wasm compatibility: the VM's end of c2w's rings (for VMs that speak a byte
// stream) and, in later files, c2w's page and VM-worker API.
export { pumpRings, type RingPump, type RingPumpOptions, type RingPumpStats } from './ring-pump.js';
