import { FewstepError } from '@fewstep/core';

/** A named float32 array with its shape. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/**
 * Minimal safetensors (F32 only) for the classifier's weights: an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data.
 * (@fewstep/nn has the full reader/writer; this keeps eval independent of nn.)
 */
export function encodeF32Safetensors(arrays: Record<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    header[name] = { dtype: 'F32', shape: a.shape, data_offsets: [offset, offset + 4 * a.data.length] };
    offset += 4 * a.data.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const a of Object.values(arrays)) {
    for (let i = 0; i < a.data.length; i++) view.setFloat32(pos + 4 * i, a.data[i], true);
    pos += 4 * a.data.length;
  }
  return out;
}

/** Reads F32 tensors from safetensors bytes. */
export function decodeF32Safetensors(bytes: Uint8Array, source = 'safetensors'): { arrays: Record<string, NamedArray>; metadata: Record<string, string> } {
  const where = 'decodeF32Safetensors';
  const fail = (msg: string): never => {
    throw new FewstepError(where, `${source}: ${msg}`, 'bytes');
  };
  if (!(bytes instanceof Uint8Array) || bytes.length < 8) fail('not safetensors (too short)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) fail(`header length ${headerLength} exceeds the file`);
  let header: Record<string, any> = {};
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    fail('header is not JSON');
  }
  const base = 8 + headerLength;
  const arrays: Record<string, NamedArray> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info?.dtype !== 'F32') fail(`tensor ${name} has dtype ${info?.dtype}, only F32 is supported`);
    const [begin, end] = info.data_offsets as [number, number];
    const count = (info.shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * count || base + end > bytes.length) fail(`tensor ${name} has inconsistent offsets`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(base + begin + 4 * i, true);
    arrays[name] = { shape: info.shape, data };
  }
  return { arrays, metadata: header.__metadata__ ?? {} };
}
