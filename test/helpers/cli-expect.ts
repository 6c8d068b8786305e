// Assertions on CLI results that print the CLI's stderr when they fail, because a bare
// "expected 1 to be 0" says nothing about why a pull broke.
import { expect } from 'vitest';
import type { CliResult } from './cli.js';

export function expectOk(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`imagemounter exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return r;
}

/**
 * Non-zero exit, no stack trace, and the error as the last stderr line, matching every
 * pattern. Earlier lines may be progress notes (e.g. "resuming in 300 ms").
 */
export function expectCliError(r: CliResult, ...patterns: (string | RegExp)[]): string {
  expect(r.code, `expected failure, got stdout: ${r.stdout.slice(0, 300)}`).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  expect(r.stderr, 'no stack trace without --debug').not.toMatch(/^\s+at /m);
  expect(last, `error line, got:\n${r.stderr}`).toMatch(/^imagemounter: \S/);
  for (const p of patterns) {
    if (typeof p === 'string') expect(last).toContain(p);
    else expect(last).toMatch(p);
  }
  return last;
}

/**
 * Environment with no ambient credentials: DOCKER_CONFIG/HOME point at `dockerConfigDir`.
 * runCli inherits process.env and an empty variable still counts as set, so the
 * IMAGEMOUNTER_* variables are removed from this (test worker) process instead.
 */
export function cleanEnv(dockerConfigDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  delete process.env.IMAGEMOUNTER_USERNAME;
  delete process.env.IMAGEMOUNTER_PASSWORD;
  return { DOCKER_CONFIG: dockerConfigDir, HOME: dockerConfigDir, ...extra };
}
