import { FewstepError, validate } from '@fewstep/core';
import { crc32, zlibCompress, zlibDecompress } from './zlib';

/** An 8-bit raster image: `channels` = 1 (grey), 3 (RGB) or 4 (RGBA), row-major, interleaved. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

export interface PngOptions {
  /** Deflate with node:zlib when available (default true); false writes stored blocks (larger, any platform). */
  compress?: boolean;
}

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);
const COLOUR_TYPE = { 1: 0, 3: 2, 4: 6 } as const;
const CHANNELS: Record<number, 1 | 3 | 4> = { 0: 1, 2: 3, 6: 4 };

export function checkRaster(where: string, argument: string, image: RasterImage): void {
  const check = validate(where);
  check.check(typeof image === 'object' && image !== null, argument, 'a RasterImage {width, height, channels, data}', image);
  check.integer(`${argument}.width`, image.width, { min: 1 });
  check.integer(`${argument}.height`, image.height, { min: 1 });
  check.check([1, 3, 4].includes(image.channels), `${argument}.channels`, '1, 3 or 4', image.channels);
  check.check(image.data instanceof Uint8Array, `${argument}.data`, 'a Uint8Array', image.data);
  const size = image.width * image.height * image.channels;
  check.check(image.data.length === size, `${argument}.data`, `${size} bytes (width * height * channels)`, image.data.length);
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)), false);
  return out;
}

// PNG's "Up" filter (type 2): each byte minus the byte above; smooth images compress much better.
function filterRows(image: RasterImage): Uint8Array {
  const stride = image.width * image.channels;
  const out = new Uint8Array((stride + 1) * image.height);
  for (let y = 0; y < image.height; y++) {
    const row = y * (stride + 1);
    out[row] = 2;
    for (let i = 0; i < stride; i++) {
      const above = y > 0 ? image.data[(y - 1) * stride + i] : 0;
      out[row + 1 + i] = (image.data[y * stride + i] - above) & 0xff;
    }
  }
  return out;
}

/** Encodes an 8-bit image as PNG bytes (IHDR, one IDAT, IEND; no interlace). */
export function encodePng(image: RasterImage, options: PngOptions = {}): Uint8Array {
  checkRaster('encodePng', 'image', image);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, image.width, false);
  view.setUint32(4, image.height, false);
  header[8] = 8; // bit depth
  header[9] = COLOUR_TYPE[image.channels];
  const parts = [SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlibCompress(filterRows(image), options.compress ?? true)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function unfilter(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? out[(y - 1) * stride + i - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
      if (pred === undefined) throw new FewstepError('decodePng', `row ${y} has unknown filter type ${type}`, 'bytes');
      out[y * stride + i] = (x + pred) & 0xff;
    }
  }
  return out;
}

/**
 * Decodes an 8-bit, non-interlaced grey/RGB/RGBA PNG (what `encodePng` writes), checking the
 * signature and every chunk's CRC. Without node:zlib only stored-block PNGs can be read.
 */
export function decodePng(bytes: Uint8Array): RasterImage {
  const fail = (msg: string): never => {
    throw new FewstepError('decodePng', msg, 'bytes');
  };
  if (!(bytes instanceof Uint8Array)) fail('bytes must be a Uint8Array');
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) fail('not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let header: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos + 12 <= bytes.length && !ended) {
    const len = view.getUint32(pos, false);
    if (pos + 12 + len > bytes.length) fail(`truncated chunk at byte ${pos}`);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) !== view.getUint32(pos + 8 + len, false)) fail(`CRC mismatch in ${type} chunk`);
    if (type === 'IHDR') header = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') ended = true;
    pos += 12 + len;
  }
  if (!header || !ended) fail('missing IHDR or IEND chunk');
  const h = new DataView(header!.buffer, header!.byteOffset, 13);
  const width = h.getUint32(0, false);
  const height = h.getUint32(4, false);
  const channels = CHANNELS[header![9]];
  if (header![8] !== 8 || !channels || header![12] !== 0) fail('only 8-bit non-interlaced grey, RGB and RGBA PNGs are supported');
  const joined = new Uint8Array(idat.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of idat) {
    joined.set(p, off);
    off += p.length;
  }
  const raw = zlibDecompress(joined);
  if (raw.length !== (width * channels + 1) * height) fail(`image data has ${raw.length} bytes, expected ${(width * channels + 1) * height}`);
  return { width, height, channels, data: unfilter(raw, width, height, channels) };
}
