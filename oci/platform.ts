// Platform strings and the matching rules registries and containerd agree on.
import { ImageError } from './errors.js';
import type { Platform } from './types.js';

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };

export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9_.-]+$/.test(p))) {
    throw new ImageError('BAD_REFERENCE', `invalid platform "${s}": expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, arch, variant] = parts as [string, string, string?];
  const p: Platform = { os: os.toLowerCase(), architecture: ARCH_ALIASES[arch.toLowerCase()] ?? arch.toLowerCase() };
  if (variant) p.variant = variant.toLowerCase();
  return p;
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Fills in the variants that are implied when absent, so comparisons are exact. */
function normalized(p: Platform): Platform {
  const architecture = ARCH_ALIASES[p.architecture] ?? p.architecture;
  let variant = p.variant || undefined;
  if (architecture === 'arm64' && !variant) variant = 'v8';
  // amd64 microarchitecture levels (v2, v3) all run on any amd64 CPU we emulate.
  if (architecture === 'amd64') variant = undefined;
  return { os: p.os, architecture, ...(variant ? { variant } : {}) };
}

/** Does an image built for `have` satisfy a request for `want`? */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalized(want);
  const h = normalized(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  // An unspecified variant on either side (e.g. plain "linux/arm") accepts any.
  return !w.variant || !h.variant || w.variant === h.variant;
}

/** Attestation manifests (buildkit provenance/SBOM) are listed as unknown/unknown. */
export function isAttestation(p: Platform | undefined): boolean {
  return !!p && p.os === 'unknown' && p.architecture === 'unknown';
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export function toPlatform(p: string | Platform | undefined): Platform {
  if (p === undefined) return DEFAULT_PLATFORM;
  return typeof p === 'string' ? parsePlatform(p) : p;
}
