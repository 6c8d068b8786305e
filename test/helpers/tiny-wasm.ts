// A minimal WebAssembly binary encoder for hand-assembled test programs that stand in
// for a c2w VM (WASI imports only, i32 everywhere): just what test/c2w and test/web need.
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
export const str = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
export const I32 = 0x7f;
export const fnType = (params: number, results: number) => [0x60, ...uleb(params), ...Array(params).fill(I32), ...uleb(results), ...Array(results).fill(I32)];
export const i32 = (n: number) => [0x41, ...sleb(n)];
export const call = (f: number) => [0x10, ...uleb(f)];
export const load = [0x28, 0x02, 0x00];
export const store = [0x36, 0x02, 0x00];

export const drop = [0x1a];
export const loop = [0x03, 0x40];
export const end = [0x0b];
export const brIf = (depth: number) => [0x0d, ...uleb(depth)];
export const eqz = [0x45];
export const ne = [0x47];
export const load8u = [0x2d, 0x00, 0x00];

export interface WasiImport {
  name: string;
  params: number;
}

/**
 * A module importing `imports` from wasi_snapshot_preview1 (each returning an i32
 * errno), exporting `memory` (one page) and `_start` with `body` (no locals), and
 * initialising memory with `data` (address → bytes).
 */
export function wasiProgram(imports: WasiImport[], body: number[], data: [number, Uint8Array | number[]][]): Uint8Array<ArrayBuffer> {
  const W = 'wasi_snapshot_preview1';
  const types = vec([...imports.map((i) => fnType(i.params, 1)), fnType(0, 0)]);
  const code = [0x00, ...body, 0x0b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, vec(imports.map((imp, t) => [...str(W), ...str(imp.name), 0x00, ...uleb(t)]))),
    ...section(3, vec([uleb(imports.length)])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...str('memory'), 0x02, 0], [...str('_start'), 0x00, ...uleb(imports.length)]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
    ...section(11, vec(data.map(([addr, bytes]) => [0x00, ...i32(addr), 0x0b, ...uleb(bytes.length), ...bytes]))),
  ]);
}
