// Node-only: where registry credentials come from, in the order a user expects —
// command-line flags, then IMAGEMOUNTER_* environment, then ~/.docker/config.json.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CredentialLookup, Credentials, Logger } from '../../oci/types.js';

export interface NodeCredentialOptions {
  username?: string | undefined;
  password?: string | undefined;
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  dockerConfigPath?: string;
  logger?: Logger;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

const HUB_KEYS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000`. */
export function normaliseAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return HUB_KEYS.has(host) ? 'docker.io' : host;
}

function fromEntry(e: NonNullable<DockerConfig['auths']>[string]): Credentials | undefined {
  const out: Credentials = {};
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) {
      out.username = text.slice(0, colon);
      out.password = text.slice(colon + 1);
    }
  } else if (e.username !== undefined) {
    out.username = e.username;
    out.password = e.password ?? '';
  }
  if (e.identitytoken) out.token = e.identitytoken;
  return out.username !== undefined || out.token ? out : undefined;
}

export function nodeCredentials(opts: NodeCredentialOptions = {}): CredentialLookup {
  const env = opts.env ?? process.env;
  const configPath =
    opts.dockerConfigPath ?? (env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(env.HOME || homedir(), '.docker', 'config.json'));
  let config: Promise<DockerConfig | undefined> | undefined;
  const noted = new Set<string>();

  const loadConfig = (): Promise<DockerConfig | undefined> =>
    (config ??= readFile(configPath, 'utf8').then(
      (text) => {
        try {
          return JSON.parse(text) as DockerConfig;
        } catch (e) {
          opts.logger?.warn?.(`ignoring ${configPath}: not valid JSON (${(e as Error).message})`);
          return undefined;
        }
      },
      () => undefined, // no docker config is the common case, not an error
    ));

  return async (host) => {
    if (opts.username) return { username: opts.username, password: opts.password ?? '' };
    // An empty variable counts as unset (shells and CI templates often export "").
    if (env.IMAGEMOUNTER_USERNAME) return { username: env.IMAGEMOUNTER_USERNAME, password: env.IMAGEMOUNTER_PASSWORD ?? '' };
    const cfg = await loadConfig();
    if (!cfg) return undefined;
    const want = normaliseAuthKey(host);
    for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
      if (normaliseAuthKey(key) === want && entry) {
        const c = fromEntry(entry);
        if (c) return c;
      }
    }
    const helper = cfg.credHelpers?.[host] ?? cfg.credHelpers?.[want] ?? cfg.credsStore;
    if (helper && !noted.has(want)) {
      noted.add(want);
      opts.logger?.warn?.(`${configPath} stores ${want} credentials in the "${helper}" credential helper, which imagemounter does not call; pass --username/--password instead`);
    }
    return undefined;
  };
}
