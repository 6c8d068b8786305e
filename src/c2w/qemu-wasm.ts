// c2w's createContainerQEMUWasm: boots an emscripten-compiled QEMU c2w image in the
// page, its network on our stack worker. The emscripten files (out.js, arg-module.js,
// load.js) come from the c2w image; what is ours is the network: the QEMU's socket
// netdev is an in-page WebSocket (serveStackOnWebSocketLink) instead of c2w's
// hand-made WebSocket stand-in, and bytes that do not fit in toNet wait instead of
// being dropped.
import type { RingBuffers } from '../transport/rings.js';
import { CERT_DIR, CERT_FILE, packInfo } from './container-env.js';
import { startStackWorker, type ContainerStackOptions } from './page.js';
import { C2W_WS_URL, serveStackOnWebSocketLink, type WebSocketLinkServer } from './ws-link.js';

/** The parts of an emscripten Module object this file touches. */
export interface EmscriptenModule {
  preRun?: ((mod: EmscriptenModule) => void) | ((mod: EmscriptenModule) => void)[];
  websocket?: { url?: string };
  locateFile?: (path: string, prefix: string) => string;
  mainScriptUrlOrBlob?: string;
  FS: { mkdir(path: string): void; writeFile(path: string, data: string | Uint8Array): void };
  [key: string]: unknown;
}

export interface QEMUWasmOptions extends ContainerStackOptions {
  /** Receives the stack worker's log lines (c2w's `options.log`). */
  log?: (message: string) => void;
  /** Appended to /pack/info (c2w's `options.extraInfo`). */
  extraInfo?: string;
  /** The in-page WebSocket URL; c2w's QEMU is pointed at it through Module.websocket.url. */
  url?: string;
  /** Called with the WebSocket endpoint once it serves (for its stats, or to close it). */
  onLink?: (link: WebSocketLinkServer) => void;
  /**
   * A stack already serving these rings (the hosted page's mount worker): no stack
   * worker is started and `stackWorkerURL` is not used.
   */
  stack?: { rings: RingBuffers; cert: Uint8Array | Promise<Uint8Array> };
}

/**
 * Same arguments as c2w's runcontainer.js. `mounterURL` is ignored (the stack worker
 * bundle mounts the image). Unlike c2w, which logs and returns undefined, a failure
 * rejects.
 */
export async function createContainerQEMUWasm(
  Module: EmscriptenModule,
  outJsAddr: string,
  imageAddr: string,
  stackWorkerURL: string | URL,
  _mounterURL: string | undefined,
  argModuleJsAddr: string,
  loadJsAddr: string,
  locateFile: (path: string, prefix: string) => string,
  options: QEMUWasmOptions = {},
): Promise<EmscriptenModule> {
  // out.js and arg-module.js are emscripten's: they find the Module through the global.
  (globalThis as unknown as { Module: EmscriptenModule }).Module = Module;
  const { default: initEmscriptenModule } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ outJsAddr)) as {
    default: (m: EmscriptenModule) => Promise<unknown>;
  };
  await import(/* webpackIgnore: true */ /* @vite-ignore */ argModuleJsAddr);
  Module.mainScriptUrlOrBlob = outJsAddr;
  Module.locateFile = locateFile;
  await loadScript(loadJsAddr);

  const wsUrl = options.url ?? C2W_WS_URL;
  const onMessage = options.onMessage;
  const { rings, cert } =
    options.stack ??
    startStackWorker(imageAddr, stackWorkerURL, {
      ...options,
      onMessage: (m) => {
        if (m.type === 'log') options.log?.(m.message);
        onMessage?.(m);
      },
    });
  const link = await serveStackOnWebSocketLink(rings, wsUrl, { logger: { warn: (m) => options.log?.(m), info: (m) => options.log?.(m) } });
  options.onLink?.(link);
  // emscripten's SOCKFS opens this URL for every socket connect, whatever address QEMU
  // was given; an http: URL is accepted by WebSocket and means ws: to the same place.
  Module.websocket = { url: wsUrl.replace(/^ws/, 'http').replace(/\/?$/, '/') };

  const certBytes = await cert;
  const preRun = (Module.preRun = Module.preRun === undefined ? [] : Array.isArray(Module.preRun) ? Module.preRun : [Module.preRun]);
  preRun.push((mod) => {
    mod.FS.mkdir(CERT_DIR);
    mod.FS.writeFile(CERT_FILE, certBytes);
  });
  const info = packInfo({ withImage: imageAddr !== '', ...(options.extraInfo ? { extraInfo: options.extraInfo } : {}) });
  preRun.push((mod) => {
    try {
      mod.FS.mkdir('/pack');
    } catch {
      // already in the image's preloaded files
    }
    mod.FS.writeFile('/pack/info', info);
  });
  await initEmscriptenModule(Module);
  return Module;
}

/** load.js is a classic script (emscripten's file packager output), not a module. */
function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}
