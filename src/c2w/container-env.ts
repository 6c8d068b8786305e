// What a c2w VM is told about its surroundings, as c2w's runcontainer.js tells it: a
// random locally administered MAC, the 9P bundle at 192.168.127.252, and the HTTP(S)
// proxy at 192.168.127.253 with its CA certificate in /.wasmenv/proxy.crt. Shared by
// the WASI VM worker (args + env) and the emscripten QEMU page (/pack/info).
import { NETWORK } from '../net/index.js';

export const CERT_DIR = '/.wasmenv';
export const CERT_FILE = `${CERT_DIR}/proxy.crt`;
/** The VM's listening socket and the fd its one accepted connection gets. */
export const LISTEN_FD = 4;
export const CONN_FD = 5;

const proxyUrl = `http://${NETWORK.proxyIp}:80`;

/** The proxy variables c2w's VM worker passes (no NO_PROXY: it sets none there). */
export const PROXY_ENV: readonly string[] = [
  `SSL_CERT_FILE=${CERT_FILE}`,
  `https_proxy=${proxyUrl}`,
  `http_proxy=${proxyUrl}`,
  `HTTPS_PROXY=${proxyUrl}`,
  `HTTP_PROXY=${proxyUrl}`,
];

/** "02:xx:xx:xx:xx:xx": bit 1 of the first octet set (locally administered), unicast. */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(5));
  return ['02', ...Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0'))].join(':');
}

/** argv of a WASI c2w VM: its network on LISTEN_FD, the image's bundle over 9P, then the container's args. */
export function vmArgs(containerArgs: readonly string[], mac = randomMac()): string[] {
  return ['arg0', `--net=socket=listenfd=${LISTEN_FD}`, '--mac', mac, `--external-bundle=9p=${NETWORK.p9Ip}`, ...containerArgs];
}

/**
 * /pack/info of an emscripten (QEMU) c2w VM: t: boot time (s), n: MAC, mr: a directory
 * to bind from the emscripten FS, env: lines, b: the external bundle (only with an image).
 */
export function packInfo(opts: { withImage: boolean; mac?: string; now?: number; extraInfo?: string }): string {
  let info = `t:${Math.round((opts.now ?? Date.now()) / 1000)}\n`;
  info += `n:${opts.mac ?? randomMac()}\n`;
  info += `mr: ${CERT_DIR.slice(1)}\n`;
  for (const e of [...PROXY_ENV, 'no_proxy=localhost,127.0.0.1', 'NO_PROXY=localhost,127.0.0.1']) info += `env: ${e}\n`;
  if (opts.withImage) info += `b: 9p=${NETWORK.p9Ip}\n`;
  return info + (opts.extraInfo ?? '');
}
