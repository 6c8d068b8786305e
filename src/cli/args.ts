import { parseArgs } from 'node:util';

export class CliUsageError extends Error {}

export const usage = `Usage: imagemounter COMMAND IMAGE [options]

IMAGE is a registry reference (alpine, ghcr.io/o/r:tag, 127.0.0.1:5000/r@sha256:…),
an OCI Image Layout URL (http(s)://host/path[#tag]) or a local OCI layout directory.

Commands:
  inspect IMAGE [--json]     resolved digest, platform, layers and config summary
  pull IMAGE                 pull and verify the image (eStargz layers: footer and TOC
                             only), then report what was fetched
  manifest IMAGE             one JSON line per entry of the tree served to the VM
  convert IMAGE --out DIR [--estargz|--zstd-chunked] [--chunk-size N] [--prioritize FILE]
                             write the image as an OCI layout with eStargz (or zstd:chunked)
                             layers (lazy pulling); FILE lists paths (one a line) to put first
  ls IMAGE [PATH]            list a directory of the image's root filesystem
  cat IMAGE PATH             write a file of the image's root filesystem to stdout
  serve IMAGE [--listen tcp:HOST:PORT|unix:PATH] [--pcap FILE]
                             serve the tree to a VM through the virtual network: the VM's
                             QEMU-framed Ethernet stream connects here (qemu -netdev
                             socket,connect=… / stream, or a c2w VM with --net=socket);
                             DHCP, ARP, ICMP, and 9P at 192.168.127.252:80
  serve-9p IMAGE [--listen tcp:HOST:PORT|unix:PATH]
                             serve the tree over 9P2000.L to native clients (a Linux
                             kernel: mount -t 9p -o trans=tcp,port=PORT,version=9p2000.L);
                             prints "listening ADDRESS" when ready, runs until SIGTERM
  cache ls | cache clear      list or empty the pull cache (manifests, blobs, eStargz chunks)
  cors-proxy [--listen tcp:HOST:PORT] [--upstream URL]
                             forward registry requests (token realms included) and add
                             CORS headers, for pages pulling from registries that send
                             none: /http(s)/HOST[:PORT]/PATH → http(s)://HOST/PATH, or
                             every PATH → URL/PATH with --upstream; prints "listening URL"
  run IMAGE [--vm v86|qemu] [-- CMD ARGS...]
                             run the image's container in a VM on this terminal (stdin,
                             stdout; exits with the container's status): v86 in-process
                             (linux/386 images, the default) or qemu-system-x86_64
                             (linux/amd64); CMD ARGS replace the image's command
  web [--listen tcp:HOST:PORT] [--layout NAME=DIR ...] [--vm-bridge ADDRESS]
                             serve the hosted page (open URL/?image=REF) and OCI layouts
                             on disk at URL/layouts/NAME; prints "listening URL"

Options:
  --platform OS/ARCH[/VARIANT]  platform to pick from a multi-platform image (linux/amd64)
  --username USER, --password PASS
                                registry credentials (also IMAGEMOUNTER_USERNAME and
                                IMAGEMOUNTER_PASSWORD, then ~/.docker/config.json)
  --listen ADDRESS              where serve and serve-9p listen (tcp:127.0.0.1:5640; port 0 picks one),
                                cors-proxy (tcp:127.0.0.1:5080) and web (tcp:127.0.0.1:8080)
  --layout NAME=DIR             web: also serve the OCI layout DIR at /layouts/NAME
  --upstream URL                cors-proxy: forward every request to this base URL
  --vm-bridge ADDRESS           web: a native VM's NIC (qemu -netdev stream) connects to
                                ADDRESS and reaches the page's mounter through a WebSocket
                                (the page opens it with ?vm=ws://…, printed at start)
  --proxy URL                   pull through an imagemounter cors-proxy at URL
  --pcap FILE                   write every frame serve sees to FILE (pcap, for Wireshark)
  --out DIR                     where convert writes the OCI layout
  --chunk-size N                eStargz chunk size in bytes (4194304)
  --json                        machine-readable output (inspect)
  --no-cache                    do not use the pull cache ($XDG_CACHE_HOME/imagemounter)
  --no-background-fetch         serve, serve-9p: fetch lazy layers only as files are read
  --vm v86|qemu                 run: the VM (v86; its default platform is linux/386, qemu's linux/amd64)
  --kernel F, --initrd F, --bios F
                                run: boot files instead of those made from Debian's packages
                                (--bios: SeaBIOS bios.bin; vgabios-stdvga.bin beside it)
  --no-snapshot                 run --vm v86: boot cold, neither use nor save the boot snapshot
  --debug                       stack traces on errors; run: the guest's boot output on stderr
  -h, --help                    this text
`;

export interface CliArgs {
  help: boolean;
  command: string;
  image: string;
  path?: string;
  platform: string;
  listen: string;
  upstream?: string;
  layouts: string[];
  vmBridge?: string;
  proxy?: string;
  pcap?: string;
  out?: string;
  chunkSize?: number;
  zstdChunked?: boolean;
  prioritize?: string;
  username?: string;
  password?: string;
  json: boolean;
  debug: boolean;
  noCache: boolean;
  noBackgroundFetch: boolean;
  /** run: the VM, boot-file overrides, the command after `--`, and whether --platform was given. */
  vm: 'v86' | 'qemu';
  kernel?: string;
  initrd?: string;
  bios?: string;
  noSnapshot: boolean;
  runArgs?: string[];
  platformGiven: boolean;
}

const commands = new Set(['inspect', 'pull', 'convert', 'manifest', 'ls', 'cat', 'serve', 'serve-9p', 'cors-proxy', 'cache', 'web', 'run']);

export function parseCliArgs(argv: string[]): CliArgs {
  // run IMAGE -- CMD ARGS: everything after the first `--` is the container's command.
  const dashes = argv.indexOf('--');
  const runArgs = dashes >= 0 ? argv.slice(dashes + 1) : undefined;
  if (dashes >= 0) argv = argv.slice(0, dashes);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        platform: { type: 'string', default: 'linux/amd64' },
        listen: { type: 'string' },
        upstream: { type: 'string' },
        layout: { type: 'string', multiple: true },
        'vm-bridge': { type: 'string' },
        proxy: { type: 'string' },
        pcap: { type: 'string' },
        out: { type: 'string' },
        estargz: { type: 'boolean', default: true },
        'zstd-chunked': { type: 'boolean', default: false },
        'chunk-size': { type: 'string' },
        prioritize: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        json: { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        'no-cache': { type: 'boolean', default: false },
        'no-background-fetch': { type: 'boolean', default: false },
        vm: { type: 'string', default: 'v86' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        bios: { type: 'string' },
        'no-snapshot': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new CliUsageError(`${(err as Error).message} (see --help)`);
  }
  const { values, positionals } = parsed;
  const [command = '', image = '', path, ...extra] = positionals;
  const help = values.help || command === 'help';
  if (!help) {
    if (!commands.has(command)) throw new CliUsageError(command ? `unknown command "${command}" (see --help)` : 'missing command (see --help)');
    if (command === 'cors-proxy' && image) throw new CliUsageError(`cors-proxy: unexpected argument "${image}"`);
    if (command === 'web' && image) throw new CliUsageError(`web: unexpected argument "${image}"`);
    if (values.layout !== undefined && command !== 'web') throw new CliUsageError(`${command}: --layout is for web`);
    if (values['vm-bridge'] !== undefined && command !== 'web') throw new CliUsageError(`${command}: --vm-bridge is for web`);
    if (values.upstream !== undefined && command !== 'cors-proxy') throw new CliUsageError(`${command}: --upstream is for cors-proxy`);
    if (command === 'cache' && image !== 'ls' && image !== 'clear') throw new CliUsageError('cache: expected ls or clear');
    if (!image && command !== 'cors-proxy' && command !== 'web') throw new CliUsageError(`${command}: missing IMAGE (see --help)`);
    if (command === 'cat' && !path) throw new CliUsageError('cat: missing PATH');
    if (runArgs !== undefined && command !== 'run') throw new CliUsageError(`${command}: unexpected argument "--"`);
    if (command === 'run' && values.vm !== 'v86' && values.vm !== 'qemu') throw new CliUsageError(`run: --vm ${JSON.stringify(values.vm)}: expected v86 or qemu`);
    if (command === 'run' && runArgs?.length === 0) throw new CliUsageError('run: missing CMD after --');
    if (command === 'convert' && !values.out) throw new CliUsageError('convert: missing --out DIR');
    if (extra.length > 0 || (path !== undefined && (command === 'inspect' || command === 'pull' || command === 'convert' || command === 'manifest' || command === 'serve' || command === 'serve-9p' || command === 'run'))) {
      throw new CliUsageError(`${command}: unexpected argument "${extra[0] ?? path}"`);
    }
  }
  return {
    help,
    command,
    image,
    path,
    platform: values.platform,
    listen: values.listen ?? (command === 'cors-proxy' ? 'tcp:127.0.0.1:5080' : command === 'web' ? 'tcp:127.0.0.1:8080' : 'tcp:127.0.0.1:5640'),
    upstream: values.upstream,
    layouts: values.layout ?? [],
    vmBridge: values['vm-bridge'],
    proxy: values.proxy,
    pcap: values.pcap,
    out: values.out,
    chunkSize: values['chunk-size'] === undefined ? undefined : parseSize(values['chunk-size']),
    zstdChunked: values['zstd-chunked'],
    prioritize: values.prioritize,
    username: values.username,
    password: values.password,
    json: values.json,
    debug: values.debug,
    noCache: values['no-cache'],
    noBackgroundFetch: values['no-background-fetch'],
    vm: values.vm as 'v86' | 'qemu',
    kernel: values.kernel,
    initrd: values.initrd,
    bios: values.bios,
    noSnapshot: values['no-snapshot'],
    runArgs,
    platformGiven: argv.some((a) => a === '--platform' || a.startsWith('--platform=')),
  };
}

function parseSize(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CliUsageError(`--chunk-size ${JSON.stringify(text)}: expected a positive number of bytes`);
  return n;
}
