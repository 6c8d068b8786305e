import { describe, expect, it } from 'vitest';
import { generateRuntimeSpec, type Tree } from '../../src/fs/index.js';
import { ImageError } from '../../oci/errors.js';
import type { ImageConfig } from '../../oci/types.js';
import { treeOf } from './helpers.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
broken:x:notanumber:1::/:/bin/sh
`;
const GROUP = `root:x:0:root
wheel:x:10:root,app
audio:x:29: app , other
app:x:1000:
staff:x:50:
`;

let image: Tree;
async function rootfs(): Promise<Tree> {
  image ??= await treeOf(
    [{ name: 'etc/passwd', content: PASSWD }, { name: 'etc/group.real', content: GROUP }],
    // /etc/group reached through a symlink, as the container would see it
    [{ name: 'etc/group', type: 'symlink', linkname: '/etc/group.real' }],
  );
  return image;
}

function spec(user: string | undefined, rest: NonNullable<ImageConfig['config']> = {}) {
  return rootfs().then((t) => generateRuntimeSpec({ config: { User: user, ...rest } }, t));
}

describe('generateRuntimeSpec', () => {
  it('builds the containerd-like default spec from the image config', async () => {
    const s = await spec(undefined, { Entrypoint: ['/entry'], Cmd: ['--flag'], Env: ['A=1'], WorkingDir: '/srv' });
    expect(s.ociVersion).toBe('1.1.0');
    expect(s.process).toMatchObject({ terminal: true, args: ['/entry', '--flag'], cwd: '/srv', noNewPrivileges: false });
    expect(s.process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'TERM=xterm']);
    expect(s.root).toEqual({ path: '/run/rootfs', readonly: false });
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(s).not.toHaveProperty('linux.seccomp');
    expect(s.process.capabilities.bounding).toContain('CAP_NET_BIND_SERVICE');
    expect(s.process.capabilities.bounding).toHaveLength(14);
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(s.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run']);
    expect(s.linux.maskedPaths).toContain('/proc/kcore');
    expect(s.linux.readonlyPaths).toContain('/proc/sysrq-trigger');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('keeps an image PATH and defaults args and cwd', async () => {
    const s = await spec('', { Env: ['PATH=/x', 'TERM=vt100'] });
    expect(s.process.env).toEqual(['PATH=/x', 'TERM=vt100']);
    expect(s.process.args).toEqual(['/bin/sh']);
    expect(s.process.cwd).toBe('/');
  });

  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [0, 10] }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [10, 29] }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [10, 29] }],
    ['app:staff', { uid: 1000, gid: 50 }],
    ['app:77', { uid: 1000, gid: 77 }],
    ['1000:50', { uid: 1000, gid: 50 }],
    ['daemon', { uid: 1, gid: 1 }],
    ['4242', { uid: 4242, gid: 0 }],
    ['4242:wheel', { uid: 4242, gid: 10 }],
  ])('resolves user %j', async (user, expected) => {
    expect((await spec(user)).process.user).toEqual(expected);
  });

  it('names an unknown user or group in the error', async () => {
    const err = await spec('foo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('UNKNOWN_USER');
    expect((err as ImageError).message).toBe(`user "foo" not found in the image's /etc/passwd`);
    const gerr = (await spec('app:nogroup').catch((e: unknown) => e)) as ImageError;
    expect(gerr.code).toBe('UNKNOWN_GROUP');
    expect(gerr.message).toContain('"nogroup"');
  });

  it('works without /etc/passwd for numeric users, and asynchronously', async () => {
    const empty = await treeOf([{ name: 'bin/sh', content: '' }]);
    expect((await generateRuntimeSpec({ config: { User: '5:6' } }, empty)).process.user).toEqual({ uid: 5, gid: 6 });
    await expect(generateRuntimeSpec({ config: { User: 'root' } }, empty)).rejects.toThrow(/"root" not found/);
    const s = await generateRuntimeSpec({ config: { User: 'app' } }, await rootfs());
    expect(s.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 29] });
  });
});
