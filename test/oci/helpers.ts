// Small shared helpers for the oci tests.
import { expect } from 'vitest';
import { ImageError } from '../../oci/index.js';

export async function collect(s: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return Buffer.concat(parts);
}

/** Awaits a rejection and checks it is an ImageError with `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<ImageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(ImageError);
  expect((e as ImageError).code, (e as Error).message).toBe(code);
  if (message) expect((e as Error).message).toMatch(message);
  return e as ImageError;
}

export function recordingLogger() {
  const warnings: string[] = [];
  const debug: string[] = [];
  return { warnings, debug, logger: { warn: (m: string) => warnings.push(m), debug: (m: string) => debug.push(m) } };
}

export const fast = { retryDelayMs: 1 };
