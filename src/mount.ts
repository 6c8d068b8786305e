// Mount once, attach many: pulls and mounts an image (openImage) and hands out network
// stacks over any transport that carries c2w's QEMU-framed byte stream (a Node socket,
// SharedArrayBuffer rings, a WebSocket). Each attach is one VM link with its own
// NetStack (DHCP lease, TCP connections); they all serve the same mounted tree.
// Transport-free and isomorphic: no node:* imports.
import { createImageNetwork, type ImageNetworkOptions } from './image-network.js';
import { openImage, treeFileSystem, type MountedImage, type OpenImageOptions } from './index.js';
import { attachLink, frameLinkOverBytes, type NetStack } from './net/index.js';
import { attachStackToRings, type RingBuffers, type RingStats, type StackRingOptions } from './transport/rings.js';

export interface MountImageOptions extends OpenImageOptions {
  /** Registry reference or OCI layout URL / path (as openImage takes it). */
  image: string;
  /** Options of every attached NetStack (logger defaults to the pull logger). */
  network?: ImageNetworkOptions;
}

/** The transport's side of a byte link: where the stack writes, and how it hangs up. */
export interface ByteLinkTransport {
  /** QEMU-framed bytes to the VM. */
  write(bytes: Uint8Array): void;
  /** Tear the transport down (local close or a corrupt stream). */
  close(): void;
}

export interface AttachOptions {
  /** Called once when the link is gone, whichever side ended it. */
  onClose?: (reason: string) => void;
  /**
   * Batching of frames into one write: default a microtask (frames sent in one turn
   * become one write). Pass `null` to write every frame at once.
   */
  schedule?: ((flush: () => void) => void) | null;
}

export interface AttachedLink {
  /** Feed QEMU-framed bytes read from the transport (VM → network). */
  receive(bytes: Uint8Array): void;
  /** The transport ended (EOF or error); the stack is closed. */
  end(reason?: string): void;
  /** Closes the link from our side: stack closed, transport's close() called. */
  close(): void;
  readonly stack: NetStack;
}

export interface AttachedRings {
  /** Stops reading and writing the rings and closes the stack. */
  close(): void;
  readonly stack: NetStack;
  readonly stats: RingStats;
}

export interface MountedImageSession {
  mounted: MountedImage;
  attach(link: ByteLinkTransport, opts?: AttachOptions): AttachedLink;
  /** The stack side of c2w's SharedArrayBuffer rings, attached as one link. */
  attachRings(rings: RingBuffers, opts?: AttachOptions & { rings?: StackRingOptions }): AttachedRings;
  /** Links currently attached. */
  readonly links: number;
  /** Closes every attached link; later attach calls throw. */
  close(): void;
}

const microtask = (flush: () => void) => queueMicrotask(flush);

export async function mountImage(opts: MountImageOptions): Promise<MountedImageSession> {
  const { image, network, ...openOpts } = opts;
  const mounted = await openImage(image, openOpts);
  const fs = treeFileSystem(mounted.tree);
  const netOpts: ImageNetworkOptions = { ...(opts.logger ? { logger: opts.logger } : {}), ...network };
  const open = new Set<() => void>();
  let closed = false;

  function attach(transport: ByteLinkTransport, o: AttachOptions = {}): AttachedLink {
    if (closed) throw new Error('mountImage: session is closed');
    const stack = createImageNetwork(fs, netOpts);
    const schedule = o.schedule === undefined ? microtask : o.schedule;
    const bytes = frameLinkOverBytes(
      (b) => transport.write(b),
      () => transport.close(),
      schedule ? { schedule } : {},
    );
    const closeLink = () => bytes.link.close();
    open.add(closeLink);
    attachLink(stack, bytes.link, (reason) => {
      open.delete(closeLink);
      o.onClose?.(reason);
    });
    return {
      receive: (b) => bytes.receive(b),
      end: (reason) => bytes.end(reason),
      close: closeLink,
      stack,
    };
  }

  function attachRings(rings: RingBuffers, o: AttachOptions & { rings?: StackRingOptions } = {}): AttachedRings {
    if (closed) throw new Error('mountImage: session is closed');
    // attachStackToRings reads toNet once before it returns: keep those bytes until the
    // link exists (the link needs the endpoint to write to).
    let link: AttachedLink | undefined;
    const early: Uint8Array[] = [];
    const ends = attachStackToRings(rings, (b) => (link ? link.receive(b) : early.push(b.slice())), o.rings);
    const { rings: _r, ...attachOpts } = o;
    link = attach({ write: (b) => ends.write(b), close: () => ends.close() }, attachOpts);
    for (const b of early.splice(0)) link.receive(b);
    const l = link;
    return { close: () => l.close(), stack: l.stack, stats: ends.stats };
  }

  return {
    mounted,
    attach,
    attachRings,
    get links() {
      return open.size;
    },
    close() {
      closed = true;
      for (const c of [...open]) c();
      open.clear();
    },
  };
}
