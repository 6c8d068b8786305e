import type { MountedImage } from '../index.js';

/** "fetched X of Y bytes (Z%)": lazily pulled layers count what Range requests brought. */
export function fetchedLine(mounted: MountedImage): string {
  const total = mounted.image.layers.reduce((n, l) => n + l.size, 0);
  // Layers pulled whole were fetched whole; lazy ones only as far as Range requests went.
  const fetched = total - (mounted.lazy?.blobBytes ?? 0) + (mounted.lazy?.bytesFetched ?? 0);
  const pct = total > 0 ? ((fetched / total) * 100).toFixed(1) : '100.0';
  return `fetched ${fetched} of ${total} layer bytes (${pct}%)${mounted.lazy ? `, ${mounted.lazy.requests} range requests` : ''}`;
}
