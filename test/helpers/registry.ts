// A real registry for acceptance tests: Debian's `docker-registry` (distribution 2.8)
// on 127.0.0.1, optionally behind htpasswd or token auth, plus skopeo to push layouts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, removeTempDir, run, spawnTracked, stopProcess, tempDir } from './procs.js';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.js';

export type AuthMode = 'none' | 'htpasswd' | 'token';

export interface Registry {
  /** `127.0.0.1:PORT`; the client uses plain HTTP for 127.0.0.1. */
  host: string;
  username?: string;
  password?: string;
  tokenIssuer?: TokenIssuer;
  stop(): Promise<void>;
}

export const TEST_USER = 'tester';
export const TEST_PASSWORD = 's3cret-pa55';

// Browsers need these to read registry responses cross-origin (the web build pulls
// straight from the registry), so the rig serves them like a CORS-enabled deployment.
const CORS_HEADERS = `    Access-Control-Allow-Origin: ["*"]
    Access-Control-Allow-Methods: ["GET", "HEAD", "OPTIONS"]
    Access-Control-Allow-Headers: ["*", "Authorization", "Range", "Accept", "Content-Type"]
    Access-Control-Expose-Headers: ["Content-Range", "Content-Length", "Docker-Content-Digest", "WWW-Authenticate", "Location"]
`;

async function waitReady(host: string, output: () => string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited()) throw new Error(`docker-registry exited early:\n${output()}`);
    try {
      const r = await fetch(`http://${host}/v2/`);
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `cors: false` serves no CORS headers, like Docker Hub (for the cors-proxy tests). */
export async function startRegistry(opts: { auth?: AuthMode; cors?: boolean } = {}): Promise<Registry> {
  const auth = opts.auth ?? 'none';
  const dir = tempDir('registry');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authYaml = '';
  let tokenIssuer: TokenIssuer | undefined;
  if (auth === 'htpasswd') {
    // bcrypt is the only hash distribution's htpasswd backend accepts.
    const line = await run('htpasswd', ['-Bbn', TEST_USER, TEST_PASSWORD]);
    writeFileSync(join(dir, 'htpasswd'), line.trim() + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: imagemounter-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    tokenIssuer = await startTokenIssuer({ dir, username: TEST_USER, password: TEST_PASSWORD });
    authYaml = `auth:\n  token:\n    realm: ${tokenIssuer.realm}\n    service: ${tokenIssuer.service}\n    issuer: ${tokenIssuer.issuer}\n    rootcertbundle: ${tokenIssuer.certPath}\n`;
  }
  const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: ${host}
  secret: imagemounter-test-secret
  headers:
${opts.cors === false ? '' : CORS_HEADERS}    X-Content-Type-Options: [nosniff]
${authYaml}`;
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, config);
  // OTEL/other env from the outer shell must not change the registry's behaviour.
  const { child, output } = spawnTracked('docker-registry', ['serve', configPath], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  try {
    await waitReady(host, output, () => child.exitCode !== null);
  } catch (e) {
    await stopProcess(child);
    throw e;
  }
  const creds = auth === 'none' ? {} : { username: TEST_USER, password: TEST_PASSWORD };
  return {
    host,
    ...creds,
    tokenIssuer,
    async stop() {
      await stopProcess(child);
      await tokenIssuer?.stop();
      removeTempDir(dir);
    },
  };
}

export interface PushOptions {
  /** `v2s2` converts to Docker schema 2; skopeo refuses zstd layers there (schema 2 has no zstd type), so push a gzip image. */
  format?: 'oci' | 'v2s2';
  /** Copy every platform of an index instead of only the host's. */
  all?: boolean;
  /** `user:password` for the destination registry. */
  creds?: string;
}

/** `skopeo copy oci:DIR[:REF] docker://HOST/REPO:TAG`; resolves to skopeo's output. */
export async function pushLayout(layoutDir: string, refInLayout: string | undefined, registryHost: string, repoTag: string, opts: PushOptions = {}): Promise<string> {
  const args = ['copy', '--insecure-policy', '--quiet', '--dest-tls-verify=false', '--retry-times', '2'];
  if (opts.format === 'v2s2') args.push('--format', 'v2s2');
  if (opts.all) args.push('--all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  args.push(refInLayout ? `oci:${layoutDir}:${refInLayout}` : `oci:${layoutDir}`, `docker://${registryHost}/${repoTag}`);
  return run('skopeo', args);
}
