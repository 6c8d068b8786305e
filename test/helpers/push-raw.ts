// Pushes one image of an OCI layout byte for byte through the distribution API.
// skopeo cannot do this for every fixture: a docker:// destination makes it gzip any
// uncompressed layer, and the `layers` image must reach the registry with its plain
// tar layer (and its manifest digest) unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Desc {
  mediaType: string;
  digest: string;
  annotations?: Record<string, string>;
}

/** Copied into an ArrayBuffer-backed array: TS 5.9's `BodyInit` rejects Buffer (ArrayBufferLike). */
function blob(layout: string, digest: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length))));
}

async function ok(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** Pushes the image manifest tagged `tag` in `layout` to `http://host/repo:destTag`. */
export async function pushLayoutRaw(layout: string, tag: string, host: string, repoTag: string): Promise<string> {
  const [repo, destTag] = repoTag.split(':') as [string, string];
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`${layout}: no manifest tagged ${tag}`);
  const manifestBytes = blob(layout, entry.digest);
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as { config: Desc; layers: Desc[] };
  const base = `http://${host}/v2/${repo}`;
  for (const d of [manifest.config, ...manifest.layers]) {
    const head = await fetch(`${base}/blobs/${d.digest}`, { method: 'HEAD' });
    if (head.ok) continue;
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`start upload: HTTP ${start.status}`);
    await start.arrayBuffer();
    const url = new URL(start.headers.get('location') ?? '', base);
    url.searchParams.set('digest', d.digest);
    await ok(await fetch(url, { method: 'PUT', body: blob(layout, d.digest), headers: { 'content-type': 'application/octet-stream' } }), `upload ${d.digest}`);
  }
  await ok(
    await fetch(`${base}/manifests/${destTag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': entry.mediaType } }),
    `put manifest ${repoTag}`,
  );
  return entry.digest;
}
