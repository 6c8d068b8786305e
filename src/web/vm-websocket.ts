// `?vm=ws://HOST:PORT`: the VM's frame stream comes from a WebSocket (a native VM behind
// `imagemounter web --vm-bridge`) and reaches the mount worker's stack through c2w's
// SharedArrayBuffer rings, exactly as a c2w VM worker's frames would. The page plays the
// VM worker's part (pumpRings) and shows the link's counters.
import { pumpRings } from '../c2w/ring-pump.js';
import type { RingBuffers } from '../transport/rings.js';
import { formatBytes } from './format.js';

export function connectWebSocketVm(url: string, rings: RingBuffers, statusEl: HTMLElement): void {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  // Bytes actually handed to the socket: after the VM hangs up the stack may still
  // write (a retransmitted FIN), which goes nowhere.
  let toVm = 0;
  const pump = pumpRings(rings, (bytes) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(bytes);
    toVm += bytes.length;
  });
  let state = 'connecting';
  const show = () => {
    const s = pump.stats;
    statusEl.textContent =
      `VM link ${url}: ${state}; ${formatBytes(s.toNet)} from the VM, ${formatBytes(toVm)} to the VM` +
      (s.fullRetries > 0 ? `, ${s.fullRetries} writes retried on a full ring` : '');
    statusEl.dataset.state = state;
    statusEl.dataset.toNet = String(s.toNet);
    statusEl.dataset.fromNet = String(toVm);
  };
  const timer = setInterval(show, 500);
  ws.onopen = () => {
    state = 'open';
    show();
  };
  ws.onmessage = (ev: MessageEvent<ArrayBuffer>) => pump.receive(new Uint8Array(ev.data));
  ws.onerror = () => {
    state = 'failed (could not connect, or the connection broke)';
    show();
  };
  ws.onclose = (ev) => {
    pump.close();
    clearInterval(timer);
    if (state === 'open') state = `closed (${ev.reason || `code ${ev.code}`})`;
    show();
  };
  show();
}
