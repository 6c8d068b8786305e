import { describe, expect, it } from 'vitest';
import { normalisePath } from '../../src/fs/index.js';
import { ImageError } from '../../oci/errors.js';

describe('normalisePath', () => {
  it('strips ./, leading / and empty or . components', () => {
    expect(normalisePath('./a/./b')).toEqual(['a', 'b']);
    expect(normalisePath('/abs/x/')).toEqual(['abs', 'x']);
    expect(normalisePath('a//b/.')).toEqual(['a', 'b']);
    expect(normalisePath('./')).toEqual([]);
    expect(normalisePath('a/../b')).toEqual(['b']);
  });

  it.each(['../x', 'a/../../x', '..', '/../etc/passwd', 'a\0b'])('rejects %j', (name) => {
    let err: unknown;
    try {
      normalisePath(name, 'sha256:abc');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('BAD_PATH');
    expect((err as ImageError).message).toContain(JSON.stringify(name));
    expect((err as ImageError).message).toContain('sha256:abc');
  });
});
