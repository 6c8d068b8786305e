// The long-running commands: `serve` (a VM's frame stream through our virtual network)
// and `serve-9p` (plain 9P for native clients). Both build the tree once, print
// "listening ADDRESS" when ready and run until SIGTERM or SIGINT.
import { createWriteStream } from 'node:fs';
import { P9Server } from '../../p9/index.js';
import { createImageNetwork } from '../image-network.js';
import { openImage, treeFileSystem, type OpenImageOptions } from '../index.js';
import { fetchedLine } from './report.js';
import { attachLink, PcapWriter } from '../net/index.js';
import { listen9p, listenFrames, parseListenSpec, type Listener } from '../transport/index.js';

// A server logs what clients do, whatever stderr is.
const log = (m: string) => void process.stderr.write(`imagemounter: ${m}\n`);
const logger = { info: log, warn: log };

export async function serve(ref: string, opts: OpenImageOptions, listen: string, pcapPath?: string): Promise<void> {
  const spec = parseListenSpec(listen);
  const mounted = await openImage(ref, opts);
  const fs = treeFileSystem(mounted.tree);
  log(fetchedLine(mounted));
  const pcap = pcapPath ? openPcap(pcapPath) : undefined;
  const listener = await listenFrames(spec, (link) => {
    log('VM connected');
    const stack = createImageNetwork(fs, { logger, ...(pcap ? { onFrameLog: pcap.log } : {}) });
    attachLink(stack, link, (reason) => log(`VM link closed: ${reason}`));
  });
  await runUntilSignal(listener, () => {
    pcap?.close();
    log(fetchedLine(mounted));
  });
}

export async function serve9p(ref: string, opts: OpenImageOptions, listen: string): Promise<void> {
  const spec = parseListenSpec(listen);
  const { tree } = await openImage(ref, opts);
  const listener = await listen9p(new P9Server(treeFileSystem(tree), { logger }), spec, logger);
  await runUntilSignal(listener);
}

async function runUntilSignal(listener: Listener, cleanup?: () => void): Promise<void> {
  process.stdout.write(`listening ${listener.address}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void listener.close().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  cleanup?.();
}

function openPcap(path: string): { log(frame: Uint8Array): void; close(): void } {
  const out = createWriteStream(path);
  const writer = new PcapWriter();
  out.write(writer.header());
  return {
    log: (frame) => void out.write(writer.record(frame, Date.now())),
    close: () => out.end(),
  };
}
