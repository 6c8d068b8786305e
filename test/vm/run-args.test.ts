import { describe, expect, it } from 'vitest';
import { CliUsageError, parseCliArgs } from '../../src/cli/args.js';

describe('imagemounter run arguments', () => {
  it('takes the command after --, verbatim', () => {
    const a = parseCliArgs(['run', 'img', '--vm', 'qemu', '--', '/bin/sh', '-c', 'echo --vm x; exit 7', '--', '-h']);
    expect(a).toMatchObject({ command: 'run', image: 'img', vm: 'qemu', runArgs: ['/bin/sh', '-c', 'echo --vm x; exit 7', '--', '-h'], platformGiven: false, help: false });
  });

  it('defaults to v86, the image command and no explicit platform', () => {
    expect(parseCliArgs(['run', 'img'])).toMatchObject({ vm: 'v86', runArgs: undefined, platformGiven: false, noSnapshot: false });
    expect(parseCliArgs(['run', 'img', '--platform=linux/amd64', '--no-snapshot'])).toMatchObject({ platformGiven: true, noSnapshot: true });
    expect(parseCliArgs(['run', 'img', '--kernel', 'k', '--initrd', 'i', '--bios', 'b'])).toMatchObject({ kernel: 'k', initrd: 'i', bios: 'b' });
  });

  it('refuses what it cannot run', () => {
    expect(() => parseCliArgs(['run', 'img', '--vm', 'kvm'])).toThrow(CliUsageError);
    expect(() => parseCliArgs(['run', 'img', '--'])).toThrow(/missing CMD/);
    expect(() => parseCliArgs(['run'])).toThrow(/missing IMAGE/);
    expect(() => parseCliArgs(['ls', 'img', '--', 'x'])).toThrow(CliUsageError);
  });
});
