// A minimal Docker token-auth issuer (distribution's token spec): checks Basic
// credentials and returns an ES256 JWT whose header carries the signing certificate in
// `x5c`, which is how distribution 2.8 finds the key to verify against its
// `rootcertbundle`. Anonymous callers get a token with no access, so the registry
// answers 401 just like Docker Hub does for a private repository.
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { run } from './procs.js';

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Requests seen, for tests that check the scopes asked for. */
  requests: { scope: string[]; user?: string }[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A throwaway self-signed P-256 certificate, made per run so no key lives in the repo. */
async function makeCert(dir: string): Promise<{ key: KeyObject; certDer: Buffer; certPath: string }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=imagemounter test token issuer',
  ]);
  const pem = readFileSync(certPath, 'utf8');
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return { key: createPrivateKey(readFileSync(keyPath)), certDer, certPath };
}

function jwt(key: KeyObject, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s signature, not DER.
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

export async function startTokenIssuer(opts: { dir: string; username: string; password: string }): Promise<TokenIssuer> {
  const { key, certDer, certPath } = await makeCert(opts.dir);
  const service = 'imagemounter-test-registry';
  const issuer = 'imagemounter-test-issuer';
  const requests: TokenIssuer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth) {
      const [u, ...rest] = Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString().split(':');
      if (!/^Basic\s/i.test(auth) || u !== opts.username || rest.join(':') !== opts.password) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      user = u;
    }
    requests.push({ scope: scopes, user });
    // Grant exactly what was asked for, and only to the right user.
    const access = user
      ? scopes.map((s) => {
          const [type, ...mid] = s.split(':');
          const actions = (mid.pop() ?? '').split(',').filter((a) => a === 'pull' || a === 'push');
          return { type, name: mid.join(':'), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(key, certDer, {
      iss: issuer, sub: user ?? '', aud: service, exp: now + 600, nbf: now - 10, iat: now, jti: randomUUID(), access,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 600, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
