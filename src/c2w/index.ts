// container2wasm compatibility: c2w's page and VM-worker API (createContainerWASI /
// startContainer, createContainerQEMUWasm) over our stack worker, and the VM's end of
// c2w's rings for VMs that speak a byte stream.
export { pumpRings, type RingPump, type RingPumpOptions, type RingPumpStats } from './ring-pump.js';
export { createContainerWASI, startStackWorker, stopContainerStack, type ContainerStackOptions, type StartedStack } from './page.js';
export { fetchVmImage, startContainer, type ContainerInfo, type StartContainerOptions } from './vm-worker.js';
export { createContainerQEMUWasm, type EmscriptenModule, type QEMUWasmOptions } from './qemu-wasm.js';
export { C2W_WS_URL, serveStackOnWebSocketLink, type WebSocketLinkOptions, type WebSocketLinkServer, type WebSocketLinkStats } from './ws-link.js';
export { ringSocket, type VmSocket, type VmSocketOptions, type VmSocketStats } from './vm-socket.js';
export { patchSocketImports, type SocketPatch, type SocketPatchOptions } from './wasi-socket.js';
export { patchTtyImports, type PollableSocket, type TtyClient, type TtyPatchOptions } from './wasi-tty.js';
export { packInfo, randomMac, vmArgs } from './container-env.js';
