import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/fs/index.js';

describe('MemoryStore', () => {
  it('appends in order, copying the caller buffer', () => {
    const s = new MemoryStore({ segmentSize: 8 });
    const buf = new Uint8Array([1, 2, 3]);
    expect(s.append(buf)).toBe(0);
    buf[0] = 99;
    expect(s.append(new Uint8Array([4, 5]))).toBe(3);
    expect(s.size).toBe(5);
    expect([...s.read(0, 5)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('returns a view within one segment and a copy across segments', () => {
    const s = new MemoryStore({ segmentSize: 8 });
    const data = Uint8Array.from({ length: 30 }, (_, i) => i);
    s.append(data.subarray(0, 5));
    s.append(data.subarray(5, 30)); // spans segments 0..3
    const inOne = s.read(9, 4);
    expect([...inOne]).toEqual([9, 10, 11, 12]);
    expect(inOne.buffer.byteLength).toBe(8); // a view of the segment
    const across = s.read(6, 20);
    expect([...across]).toEqual([...data.subarray(6, 26)]);
    expect(across.buffer.byteLength).toBe(20); // a fresh copy
    expect([...s.read(0, 30)]).toEqual([...data]);
    expect(s.read(30, 0).length).toBe(0);
  });

  it('rejects reads past the end', () => {
    const s = new MemoryStore({ segmentSize: 8 });
    s.append(new Uint8Array(4));
    expect(() => s.read(2, 3)).toThrow(RangeError);
  });
});
