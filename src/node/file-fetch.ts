// Node-only: a fetch that also serves file: URLs from disk, so oci/ can read local image
// layouts through the same FetchLike it uses for registries (byte ranges included).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { FetchLike } from '../../oci/types.js';

export function createNodeFetch(base?: FetchLike): FetchLike {
  return async (input, init) => {
    if (!input.startsWith('file:')) {
      const f = base ?? globalThis.fetch;
      return f(input, init);
    }
    return serveFile(input, init);
  };
}

function status(code: number, extra: Record<string, string> = {}): Response {
  return new Response(null, { status: code, headers: extra });
}

async function serveFile(url: string, init: RequestInit | undefined): Promise<Response> {
  init?.signal?.throwIfAborted();
  const method = (init?.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return status(405);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return status(400);
  }
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) return status(404);
    size = st.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return status(404);
    if (code === 'EACCES' || code === 'EPERM') return status(403);
    throw e;
  }
  const range = new Headers(init?.headers).get('range');
  let start = 0;
  let end = size; // exclusive
  let partial = false;
  if (range) {
    const parsed = parseRange(range, size);
    if (parsed === 'unsatisfiable') return status(416, { 'content-range': `bytes */${size}` });
    if (parsed) {
      [start, end] = parsed;
      partial = true;
    }
  }
  const headers: Record<string, string> = {
    'content-length': String(end - start),
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
  };
  if (partial) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  let body: ReadableStream<Uint8Array> | null = null;
  if (method === 'GET' && end > start) {
    const file = createReadStream(path, { start, end: end - 1 });
    init?.signal?.addEventListener('abort', () => file.destroy(init.signal!.reason as Error), { once: true });
    body = Readable.toWeb(file) as unknown as ReadableStream<Uint8Array>;
  }
  return new Response(body, { status: partial ? 206 : 200, headers });
}

/** One `bytes=` range (the only kind oci/ asks for): [start, end) or null to send everything. */
function parseRange(header: string, size: number): [number, number] | null | 'unsatisfiable' {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null; // unsupported forms: ignore, like many servers
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? 'unsatisfiable' : [size - n, size];
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || last < start) return 'unsatisfiable';
  return [start, last + 1];
}
