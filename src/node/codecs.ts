// Node's native hashing and gzip: node:crypto uses the CPU's SHA extensions and
// node:zlib with large output chunks inflates about 2.5x faster than DecompressionStream
// (16 KiB chunks) on the ingest benchmark. Both accept concatenated gzip members.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Codecs } from '../../oci/index.js';

const GUNZIP_CHUNK = 256 * 1024;

export function nodeCodecs(): Codecs {
  return {
    createHash(algorithm) {
      const hash = createHash(algorithm);
      return {
        update: (chunk) => void hash.update(chunk),
        digestHex: () => hash.digest('hex'),
      };
    },
    gunzip(stream) {
      const input = Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>);
      const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
      // pipe() does not forward errors: a failing source must fail the output.
      input.on('error', (err) => gunzip.destroy(err));
      return Readable.toWeb(input.pipe(gunzip)) as unknown as ReadableStream<Uint8Array>;
    },
  };
}
