import { FewstepError, validate } from './errors';

/** A host-side tensor: float32 values (row-major) and a shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** The dtypes read (all decoded to float32) and written. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64';
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

export interface SafetensorsFile {
  tensors: Record<string, HostTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
  /** The dtype each tensor had in the file. */
  dtypes: Record<string, SafetensorsDtype>;
}

function bytesOf(where: string, input: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return validate(where).fail('bytes', 'an ArrayBuffer or a Uint8Array', input);
}

/** IEEE half -> float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float -> IEEE half, round to nearest even. */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  // A carry out of the mantissa bumps the exponent, which is the correct rounding (up to infinity).
  return sign | half;
}

const bf16Bits = new Uint32Array(1);
const bf16Value = new Float32Array(bf16Bits.buffer);

function decode(dtype: SafetensorsDtype, view: DataView, count: number): Float32Array {
  const out = new Float32Array(count);
  const size = BYTES[dtype];
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (dtype) {
      case 'F32': out[i] = view.getFloat32(o, true); break;
      case 'F16': out[i] = halfToFloat(view.getUint16(o, true)); break;
      case 'BF16':
        bf16Bits[0] = view.getUint16(o, true) << 16;
        out[i] = bf16Value[0];
        break;
      case 'F64': out[i] = view.getFloat64(o, true); break;
      case 'I32': out[i] = view.getInt32(o, true); break;
      case 'I64': out[i] = Number(view.getBigInt64(o, true)); break;
    }
  }
  return out;
}

/**
 * Parses a safetensors file (8-byte little-endian header length, JSON header, raw data) into
 * float32 host tensors. Works on any ArrayBuffer / Uint8Array, in Node and in the browser.
 */
export function readSafetensors(input: ArrayBuffer | ArrayBufferView): SafetensorsFile {
  const where = 'readSafetensors';
  const bytes = bytesOf(where, input);
  const fail = (msg: string): never => {
    throw new FewstepError(where, `bytes must be a safetensors file: ${msg}`, 'bytes');
  };
  if (bytes.byteLength < 8) fail(`got only ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) fail(`header length ${headerLen} exceeds the file (${bytes.byteLength} bytes)`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const file: SafetensorsFile = { tensors: {}, metadata: header.__metadata__ ?? {}, dtypes: {} };
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = info?.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) fail(`tensor ${name} has unsupported dtype ${JSON.stringify(info?.dtype)} (F32, F16, BF16, F64, I32, I64)`);
    const shape: number[] = info.shape;
    const [begin, end] = info.data_offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype] || dataStart + end > bytes.byteLength) {
      fail(`tensor ${name} has offsets [${begin}, ${end}] that do not fit shape [${shape}] ${dtype}`);
    }
    const tview = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    file.tensors[name] = { shape: [...shape], data: decode(dtype, tview, count) };
    file.dtypes[name] = dtype;
  }
  return file;
}

/**
 * Serialises host tensors as a safetensors file (tensors in name order, header padded with spaces
 * to a multiple of 8). `dtype` F32 (default), F16 or BF16 (BF16 rounds to nearest even).
 */
export function writeSafetensors(
  tensors: Record<string, HostTensor>,
  opts: { metadata?: Record<string, string>; dtype?: 'F32' | 'F16' | 'BF16' } = {},
): Uint8Array {
  const check = validate('writeSafetensors');
  const dtype = check.oneOf('dtype', opts.dtype ?? 'F32', ['F32', 'F16', 'BF16'] as const);
  const size = BYTES[dtype];
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) check.fail(`tensors[${name}]`, `${count} values for shape [${t.shape}]`, `${t.data.length} values`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + count * size] };
    offset += count * size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let o = 8 + headerBytes.length;
  const scratch = new DataView(new ArrayBuffer(4));
  for (const name of names) {
    for (const v of tensors[name].data) {
      if (dtype === 'F32') view.setFloat32(o, v, true);
      else if (dtype === 'F16') view.setUint16(o, floatToHalf(v), true);
      else {
        scratch.setFloat32(0, v);
        const bits = scratch.getUint32(0);
        const rounded = Number.isNaN(v) ? 0x7fc0 : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
        view.setUint16(o, rounded & 0xffff, true);
      }
      o += size;
    }
  }
  return out;
}
