// serveStackOnWebSocketLink in Node: msw's WebSocket interception replaces the global
// WebSocket class (Node 20 has none, so `ws`'s class stands in as the one it wraps), and
// the "server" end is the rings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket as NodeWebSocket } from 'ws';
import { serveStackOnWebSocketLink } from '../../src/c2w/index.js';
import { attachStackToRings, createRingBuffers } from '../../src/transport/rings.js';
import { pattern, sameBytes, until } from './helpers.js';

const g = globalThis as unknown as { WebSocket?: unknown };
const hadWebSocket = 'WebSocket' in globalThis;
beforeAll(() => {
  if (!hadWebSocket) g.WebSocket = NodeWebSocket;
});
afterAll(() => {
  if (!hadWebSocket) delete g.WebSocket;
});

function open(url: string): Promise<WebSocket> {
  const s = new WebSocket(url);
  s.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    s.onopen = () => resolve(s);
    s.onerror = () => reject(new Error(`${url}: error`));
    s.onclose = (e) => reject(new Error(`${url}: closed ${e.code} ${e.reason}`));
  });
}

describe('serveStackOnWebSocketLink', () => {
  it('carries the byte stream both ways, in order, for the URL emscripten is given', async () => {
    const rings = createRingBuffers();
    const got: Uint8Array[] = [];
    const stack = attachStackToRings(rings, (b) => got.push(b.slice()));
    const logs: string[] = [];
    const server = await serveStackOnWebSocketLink(rings, undefined, { logger: { warn: (m) => logs.push(m) } });
    try {
      // c2w sets Module.websocket.url = 'http://localhost:9999/'.
      const sock = await open('http://localhost:9999/');
      const fromNet: Uint8Array[] = [];
      sock.onmessage = (e) => {
        expect(e.data).toBeInstanceOf(ArrayBuffer);
        fromNet.push(new Uint8Array(e.data as ArrayBuffer));
      };
      const a = pattern(3000, 1);
      const b = pattern(70_000, 2);
      const c = pattern(10, 3);
      sock.send(a);
      sock.send(b.buffer);
      sock.send(new Blob([c])); // read asynchronously, must not overtake what follows
      sock.send(a.subarray(0, 5));
      const want = Buffer.concat([a, b, c, a.subarray(0, 5)]);
      await until(() => got.reduce((n, x) => n + x.length, 0) === want.length);
      expect(sameBytes(Buffer.concat(got), want)).toBe(true);

      const back = [pattern(1500, 4), pattern(200_000, 5)];
      for (const x of back) stack.write(x);
      await until(() => fromNet.reduce((n, x) => n + x.length, 0) === 201_500);
      expect(sameBytes(Buffer.concat(fromNet), Buffer.concat(back))).toBe(true);
      expect(server.stats).toMatchObject({ connections: 1, rejected: 0, toNet: want.length, fromNet: 201_500 });

      // A second connection while the first is open is refused, with a line saying why.
      await expect(open('ws://localhost:9999')).rejects.toThrow(/closed 4000/);
      expect(server.stats.rejected).toBe(1);
      expect(logs.join('\n')).toMatch(/refused a second connection/);

      // Once the first one closes, the VM may connect again.
      sock.close();
      await new Promise((r) => setTimeout(r, 50));
      const again = await open('ws://localhost:9999/');
      again.send(Uint8Array.of(42));
      await until(() => got.reduce((n, x) => n + x.length, 0) === want.length + 1);
      expect(server.stats.connections).toBe(2);
      again.close();
    } finally {
      server.close();
      stack.close();
    }
  });

  it('lets other WebSockets through and restores the global class on close', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    wss.on('connection', (c) => c.on('message', (m) => c.send(m)));
    const before = globalThis.WebSocket;
    const server = await serveStackOnWebSocketLink(createRingBuffers());
    try {
      expect(globalThis.WebSocket).not.toBe(before);
      const echo = await open(`ws://127.0.0.1:${port}/`);
      const reply = new Promise<unknown>((r) => (echo.onmessage = (e) => r(e.data)));
      echo.send('ping');
      expect(String(Buffer.from((await reply) as ArrayBuffer))).toBe('ping');
      echo.close();
    } finally {
      server.close();
      await new Promise((r) => wss.close(r));
    }
    expect(globalThis.WebSocket).toBe(before);
  });
});
