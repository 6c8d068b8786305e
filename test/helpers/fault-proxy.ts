// An HTTP proxy in front of a registry (or any HTTP origin) that misbehaves on
// command, so tests can check how the client survives or reports broken transfers.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type Fault =
  /** Answer with `status` (429 adds `Retry-After: 0`) `times` times, then pass through. */
  | { kind: 'status'; status: number; times?: number; match: Matcher }
  /** Send the headers and `afterBytes` of the body, then cut the TCP connection. */
  | { kind: 'drop'; afterBytes: number; times?: number; match: Matcher }
  /** Flip one byte of the body at `offset`; length and headers unchanged. */
  | { kind: 'corrupt'; offset: number; times?: number; match: Matcher }
  /** Serve only the first `keepBytes` of the body with a matching Content-Length: a "complete" short response. */
  | { kind: 'truncate'; keepBytes: number; times?: number; match: Matcher };

/** A substring or pattern of the request path, optionally limited to one method. */
export type Matcher = string | RegExp | ((req: IncomingMessage) => boolean);

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  fault?: Fault['kind'];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, usable as a registry host (plain HTTP). */
  host: string;
  add(fault: Fault): void;
  clear(): void;
  log: LoggedRequest[];
  stop(): Promise<void>;
}

function matches(m: Matcher, req: IncomingMessage): boolean {
  const path = req.url ?? '';
  if (typeof m === 'string') return path.includes(m);
  if (m instanceof RegExp) return m.test(path);
  return m(req);
}

/** Matches GETs of one blob (HEADs carry no body to break). */
export function blobGet(digest: string): Matcher {
  return (req) => req.method === 'GET' && (req.url ?? '').includes(`/blobs/${digest}`);
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults: (Fault & { left: number })[] = [];
  const log: LoggedRequest[] = [];

  const take = (req: IncomingMessage): Fault | undefined => {
    const f = faults.find((x) => x.left > 0 && matches(x.match, req));
    if (f) f.left--;
    return f;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: req.url ?? '', range: req.headers.range, status: 0 };
    log.push(entry);
    const fault = take(req);
    entry.fault = fault?.kind;
    if (fault?.kind === 'status') {
      entry.status = fault.status;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.status === 429) headers['retry-after'] = '0';
      res.writeHead(fault.status, headers);
      res.end(JSON.stringify({ errors: [{ code: fault.status === 404 ? 'BLOB_UNKNOWN' : 'TOOMANYREQUESTS', message: `injected ${fault.status}` }] }));
      return;
    }
    // Host is left as the proxy's so any absolute Location the registry builds points back here.
    const upstream = request(
      { host: target.split(':')[0], port: Number(target.split(':')[1] ?? 80), method: req.method, path: req.url, headers: req.headers },
      (up) => {
        entry.status = up.statusCode ?? 0;
        if (!fault || (up.statusCode !== 200 && up.statusCode !== 206)) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        pipeWithFault(fault, up, res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    add: (f) => faults.push({ ...f, left: f.times ?? 1 }),
    clear: () => {
      faults.length = 0;
      log.length = 0;
    },
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function pipeWithFault(fault: Exclude<Fault, { kind: 'status' }>, up: IncomingMessage, res: ServerResponse): void {
  const headers = { ...up.headers };
  if (fault.kind === 'truncate') {
    headers['content-length'] = String(Math.min(fault.keepBytes, Number(up.headers['content-length'] ?? fault.keepBytes)));
    delete headers['transfer-encoding'];
  }
  res.writeHead(up.statusCode ?? 200, headers);
  let seen = 0;
  up.on('data', (chunk: Buffer) => {
    const start = seen;
    seen += chunk.length;
    if (fault.kind === 'drop') {
      if (seen >= fault.afterBytes) {
        res.write(chunk.subarray(0, fault.afterBytes - start), () => res.socket?.destroy());
        up.destroy();
        return;
      }
      res.write(chunk);
    } else if (fault.kind === 'truncate') {
      if (start < fault.keepBytes) res.write(chunk.subarray(0, fault.keepBytes - start));
      if (seen >= fault.keepBytes) {
        res.end();
        up.destroy();
      }
    } else {
      if (fault.offset >= start && fault.offset < seen) {
        chunk = Buffer.from(chunk);
        chunk[fault.offset - start] ^= 0xff;
      }
      res.write(chunk);
    }
  });
  up.on('end', () => {
    if (!res.writableEnded && !res.destroyed) res.end();
  });
}
