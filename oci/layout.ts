// OCI image layouts (image-spec image-layout.md) over any URL the injected fetch
// understands: http(s) directories or, through the Node edge, file:// directories.
import { splitDigest } from './digest.js';
import { ImageError } from './errors.js';
import { fetchBytes, withRetries, type HttpContext } from './http.js';
import { bareMediaType } from './media-types.js';
import { MAX_MANIFEST_BYTES, parseJson, rangeHeader, type ByteRange, type FetchedManifest, type ImageSource } from './source.js';
import type { Descriptor, ImageReference } from './types.js';

type LayoutRef = Extract<ImageReference, { kind: 'layout' }>;

export class LayoutClient implements ImageSource {
  readonly label: string;
  readonly local: boolean;

  constructor(private readonly ref: LayoutRef) {
    this.label = ref.baseUrl;
    this.local = ref.baseUrl.startsWith('file:');
  }

  private init(ctx: HttpContext, extra: Record<string, string> = {}): RequestInit {
    return { headers: extra, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  }

  private async get(ctx: HttpContext, url: string, what: string): Promise<Uint8Array> {
    const { res, bytes } = await fetchBytes(ctx, what, () => ctx.fetch(url, this.init(ctx)), MAX_MANIFEST_BYTES);
    check(res, what, url);
    return bytes;
  }

  /** index.json parsed; also warns about an unexpected oci-layout version. */
  async getIndex(ctx: HttpContext): Promise<{ bytes: Uint8Array; json: unknown; url: string }> {
    const url = `${this.ref.baseUrl}/index.json`;
    const [bytes] = await Promise.all([
      this.get(ctx, url, `index.json of image layout ${this.label}`).catch((e: unknown) => {
        if (e instanceof ImageError && e.code === 'NOT_FOUND') {
          throw new ImageError('NOT_FOUND', `${this.label} is not an OCI image layout: ${url} not found`, { cause: e });
        }
        throw e;
      }),
      this.checkVersion(ctx),
    ]);
    return { bytes, json: parseJson(bytes, url), url };
  }

  private async checkVersion(ctx: HttpContext): Promise<void> {
    const url = `${this.ref.baseUrl}/oci-layout`;
    try {
      const bytes = await this.get(ctx, url, 'oci-layout');
      const v = (parseJson(bytes, url) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      if (typeof v !== 'string' || !v.startsWith('1.')) ctx.logger?.warn?.(`${url}: unexpected imageLayoutVersion ${JSON.stringify(v)}; reading it as 1.0`);
    } catch (e) {
      // The marker file is advisory; plenty of tools serve a layout without it.
      ctx.logger?.debug?.(`${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private blobUrl(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return `${this.ref.baseUrl}/blobs/${algorithm}/${hex}`;
  }

  async getManifest(ctx: HttpContext, digest: string): Promise<FetchedManifest> {
    const url = this.blobUrl(digest);
    const { res, bytes } = await fetchBytes(ctx, `manifest ${digest}`, () => ctx.fetch(url, this.init(ctx)), MAX_MANIFEST_BYTES);
    check(res, `manifest ${digest} of ${this.label}`, url);
    return { bytes, contentType: bareMediaType(res.headers.get('content-type')), url };
  }

  async getBlob(ctx: HttpContext, desc: Descriptor, range?: ByteRange): Promise<Response> {
    const url = this.blobUrl(desc.digest);
    const what = `blob ${desc.digest} of ${this.label}`;
    const res = await withRetries(ctx, what, () => ctx.fetch(url, this.init(ctx, rangeHeader(range))));
    check(res, what, url);
    return res;
  }
}

function check(res: Response, what: string, url: string): void {
  if (res.ok) return;
  void res.body?.cancel().catch(() => {});
  if (res.status === 404) throw new ImageError('NOT_FOUND', `${what}: not found (${url})`, { status: 404 });
  if (res.status === 401 || res.status === 403) throw new ImageError('UNAUTHORIZED', `${what}: access refused (${res.status}) at ${url}`, { status: res.status });
  throw new ImageError('HTTP_ERROR', `${what}: HTTP ${res.status} at ${url}`, { status: res.status });
}
