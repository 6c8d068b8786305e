// Content digests: parsing, one-shot checks for small documents, and incremental hashing
// for blobs (hash-wasm, because WebCrypto cannot hash a stream incrementally).
import { createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import { ImageError } from './errors.js';
import type { Codecs } from './types.js';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function splitDigest(digest: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  if (!DIGEST_RE.test(digest)) throw new ImageError('MALFORMED_MANIFEST', `invalid digest "${digest}"`);
  const [algorithm, hex] = digest.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex };
}

export interface Digester {
  update(chunk: Uint8Array): void;
  /** `alg:hex` of everything passed to update. */
  digest(): string;
}

/** An incremental hasher for the algorithm named in `digest` (sha256 or sha512). */
export async function createDigester(digest: string, codecs?: Codecs): Promise<Digester> {
  const { algorithm } = splitDigest(digest);
  const platform = codecs?.createHash?.(algorithm);
  if (platform) {
    return { update: (chunk) => platform.update(chunk), digest: () => `${algorithm}:${platform.digestHex()}` };
  }
  const h: IHasher = algorithm === 'sha512' ? await createSHA512() : await createSHA256();
  h.init();
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => `${algorithm}:${h.digest('hex')}`,
  };
}

export async function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const d = await createDigester(algorithm === 'sha512' ? `sha512:${'0'.repeat(128)}` : `sha256:${'0'.repeat(64)}`);
  d.update(bytes);
  return d.digest();
}

/** Throws DIGEST_MISMATCH unless `bytes` hash to `expected`; returns the digest. */
export async function verifyBytes(bytes: Uint8Array, expected: string, what: string): Promise<string> {
  const actual = await digestOf(bytes, splitDigest(expected).algorithm);
  if (actual !== expected) {
    throw new ImageError('DIGEST_MISMATCH', `${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
  return actual;
}
