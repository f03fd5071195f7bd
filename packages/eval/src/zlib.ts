import { FewstepError, describe } from '@fewstep/core';

function checkBytes(where: string, argument: string, bytes: unknown): void {
  if (!(bytes instanceof Uint8Array)) throw new FewstepError(where, `${argument} must be a Uint8Array, got ${describe(bytes)}`, argument);
}

/**
 * zlib streams for PNG. In Node the real deflate (node:zlib) is used, reached through
 * process.getBuiltinModule so browser bundles never see a `node:` import; elsewhere a stored
 * (uncompressed) deflate stream is written, which every PNG reader accepts.
 */

let table: Uint32Array | null = null;

/** CRC-32 (IEEE, as used by PNG chunks and gzip) of `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  checkBytes('crc32', 'bytes', bytes);
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Adler-32 checksum (the zlib trailer). */
export function adler32(bytes: Uint8Array): number {
  checkBytes('adler32', 'bytes', bytes);
  let a = 1;
  let b = 0;
  // 5552 is the largest block for which b cannot overflow 2^32 before the modulo.
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream of stored (uncompressed) deflate blocks of at most 65535 bytes. */
export function zlibStored(data: Uint8Array): Uint8Array {
  checkBytes('zlibStored', 'data', data);
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + blocks * 5 + data.length + 4);
  out[0] = 0x78; // CM = 8 (deflate), CINFO = 7 (32K window)
  out[1] = 0x01; // FCHECK so that (CMF * 256 + FLG) % 31 == 0, no dictionary, fastest level
  let pos = 2;
  for (let b = 0; b < blocks; b++) {
    const chunk = data.subarray(b * 65535, Math.min(data.length, (b + 1) * 65535));
    out[pos] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00 (stored)
    out[pos + 1] = chunk.length & 0xff;
    out[pos + 2] = chunk.length >>> 8;
    out[pos + 3] = ~chunk.length & 0xff;
    out[pos + 4] = (~chunk.length >>> 8) & 0xff;
    out.set(chunk, pos + 5);
    pos += 5 + chunk.length;
  }
  new DataView(out.buffer).setUint32(pos, adler32(data), false);
  return out;
}

/** Reads a zlib stream made only of stored blocks (what `zlibStored` writes). */
export function inflateStored(stream: Uint8Array): Uint8Array {
  const where = 'inflateStored';
  checkBytes(where, 'stream', stream);
  if (stream.length < 6 || (stream[0] & 0x0f) !== 8 || ((stream[0] << 8) | stream[1]) % 31 !== 0) {
    throw new FewstepError(where, 'stream is not a zlib stream', 'stream');
  }
  const parts: Uint8Array[] = [];
  let pos = 2;
  for (;;) {
    const header = stream[pos];
    if ((header & 0x06) !== 0) {
      throw new FewstepError(where, 'stream uses compressed deflate blocks; decode it with node:zlib or a full inflater', 'stream');
    }
    const len = stream[pos + 1] | (stream[pos + 2] << 8);
    const nlen = stream[pos + 3] | (stream[pos + 4] << 8);
    if ((len ^ 0xffff) !== nlen || pos + 5 + len > stream.length) throw new FewstepError(where, 'corrupt stored block', 'stream');
    parts.push(stream.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
    if (header & 1) break;
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  const expected = new DataView(stream.buffer, stream.byteOffset + pos, 4).getUint32(0, false);
  if (adler32(out) !== expected) throw new FewstepError(where, 'Adler-32 checksum mismatch', 'stream');
  return out;
}

interface NodeZlib {
  deflateSync(data: Uint8Array, opts?: { level?: number }): Uint8Array;
  inflateSync(data: Uint8Array): Uint8Array;
}

/** node:zlib when running in Node, otherwise null. */
export function nodeZlib(): NodeZlib | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return (proc?.getBuiltinModule?.('node:zlib') as NodeZlib | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Compresses with node:zlib when available (`compress` true), else writes stored blocks. */
export function zlibCompress(data: Uint8Array, compress = true): Uint8Array {
  const zlib = compress ? nodeZlib() : null;
  if (!zlib) return zlibStored(data);
  const out = zlib.deflateSync(data, { level: 9 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Decompresses a zlib stream (node:zlib when available, else stored blocks only). */
export function zlibDecompress(stream: Uint8Array): Uint8Array {
  const zlib = nodeZlib();
  if (!zlib) return inflateStored(stream);
  try {
    const out = zlib.inflateSync(stream);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new FewstepError('zlibDecompress', `corrupt zlib stream (${(e as Error).message})`, 'stream');
  }
}
