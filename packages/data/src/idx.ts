import { FewstepError, describe } from '@fewstep/core';

/** Element types of the IDX format (third byte of the magic number). */
const IDX_TYPES = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;

export type IdxDtype = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

/** A parsed IDX file: its element type, its dimensions and its values (typed to the element type). */
export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

function fail(where: string, source: string, problem: string): never {
  throw new FewstepError(where, `${source}: ${problem}`, 'file');
}

/**
 * Parses an IDX file (the MNIST container): magic `0x00 0x00 <type> <rank>`, then `rank` big-endian
 * uint32 sizes, then the values big-endian. `source` names the file in error messages.
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const where = 'parseIdx';
  if (!(bytes instanceof Uint8Array)) {
    throw new FewstepError(where, `bytes must be a Uint8Array, got ${describe(bytes)}`, 'bytes');
  }
  if (bytes.length < 4) fail(where, source, `truncated: ${bytes.length} bytes, an IDX header needs at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(where, source, `bad magic number 0x${hex(bytes, 4)}: IDX files start with two zero bytes`);
  }
  const type = IDX_TYPES[bytes[2] as keyof typeof IDX_TYPES];
  if (!type) fail(where, source, `unknown IDX element type 0x${bytes[2].toString(16).padStart(2, '0')}`);
  const rank = bytes[3];
  if (rank === 0) fail(where, source, 'IDX rank 0 is not supported');
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) fail(where, source, `truncated header: ${bytes.length} bytes, need ${headerSize}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerSize + count * type.size;
  if (bytes.length !== expected) {
    fail(where, source, `size mismatch: header [${shape.join(', ')}] needs ${expected} bytes, file has ${bytes.length}`);
  }
  return { dtype: type.name, shape, data: readValues(view, headerSize, count, type.name) };
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join('');
}

function readValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxArray['data'] {
  if (dtype === 'uint8') return new Uint8Array(view.buffer, view.byteOffset + offset, count).slice();
  if (dtype === 'int8') return new Int8Array(view.buffer, view.byteOffset + offset, count).slice();
  // Wider types are big-endian on disk: read them one by one.
  const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[dtype];
  const out = new Ctor(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'int16') out[i] = view.getInt16(offset + 2 * i, false);
    else if (dtype === 'int32') out[i] = view.getInt32(offset + 4 * i, false);
    else if (dtype === 'float32') out[i] = view.getFloat32(offset + 4 * i, false);
    else out[i] = view.getFloat64(offset + 8 * i, false);
  }
  return out;
}

/** MNIST images: `count` uint8 images of `height x width`, row-major, 0 = background. */
export interface MnistImages {
  count: number;
  height: number;
  width: number;
  pixels: Uint8Array;
}

/** Parses an MNIST image file (IDX, uint8, rank 3: [count, height, width]). */
export function parseMnistImages(bytes: Uint8Array, source = 'MNIST images'): MnistImages {
  const idx = parseIdx(bytes, source);
  if (idx.dtype !== 'uint8' || idx.shape.length !== 3) {
    fail('parseMnistImages', source, `expected uint8 images of rank 3 (magic 0x00000803), got ${idx.dtype} of rank ${idx.shape.length}`);
  }
  const [count, height, width] = idx.shape;
  return { count, height, width, pixels: idx.data as Uint8Array };
}

/** Parses an MNIST label file (IDX, uint8, rank 1), checking every label is a digit 0-9. */
export function parseMnistLabels(bytes: Uint8Array, source = 'MNIST labels'): Uint8Array {
  const idx = parseIdx(bytes, source);
  if (idx.dtype !== 'uint8' || idx.shape.length !== 1) {
    fail('parseMnistLabels', source, `expected uint8 labels of rank 1 (magic 0x00000801), got ${idx.dtype} of rank ${idx.shape.length}`);
  }
  const labels = idx.data as Uint8Array;
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) fail('parseMnistLabels', source, `label ${bad} is ${labels[bad]}, expected a digit 0-9`);
  return labels;
}

/** Writes an IDX file of uint8 values (for tests and for saving small data sets). */
export function encodeIdxUint8(shape: number[], data: Uint8Array): Uint8Array {
  const where = 'encodeIdxUint8';
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 255 || shape.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff)) {
    throw new FewstepError(where, `shape must be 1 to 255 non-negative integer sizes, got ${describe(shape)}`, 'shape');
  }
  if (!(data instanceof Uint8Array)) throw new FewstepError(where, `data must be a Uint8Array, got ${describe(data)}`, 'data');
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new FewstepError('encodeIdxUint8', `data must have ${count} values for shape [${shape.join(', ')}], got ${data.length}`, 'data');
  }
  const out = new Uint8Array(4 + 4 * shape.length + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((s, d) => view.setUint32(4 + 4 * d, s, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}
