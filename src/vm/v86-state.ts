// Checks a saved v86 state before v86 sees it. Free of v86 itself, so a page can use it
// without loading the emulator.

// v86's state header: four little-endian words, magic, format version, total length, info length.
const STATE_MAGIC = 0x86768676;
const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Why `state` cannot be a v86 state, or undefined when it looks whole. v86 throws from
 * inside its start-up on a damaged state, where nothing can catch it and the emulator
 * never loads: a truncated save (a page closed mid-write) must be caught before.
 */
export function badV86State(state: ArrayBuffer): string | undefined {
  if (state.byteLength < 16) return `${state.byteLength} bytes, too short for a v86 state`;
  const [magic, , length] = new Uint32Array(state, 0, 4);
  if (magic === ZSTD_MAGIC) return undefined; // compressed: v86 checks it while unpacking
  if (magic !== STATE_MAGIC) return 'not a v86 state (bad magic number)';
  if (length !== state.byteLength) return `truncated: ${state.byteLength} of ${length} bytes`;
  return undefined;
}
