import * as tf from '@tensorflow/tfjs';
import { FewstepError, assertSyncRead, validate } from '@fewstep/core';
import type { Layout, Module } from './module';
import { readSafetensors, writeSafetensors, type HostTensor } from '@fewstep/core';

/** PyTorch's shape of a tensor kept here in `layout` with tfjs shape `shape`. */
export function torchShape(shape: number[], layout: Layout): number[] {
  if (layout === 'linear') return [shape[1], shape[0]];
  if (layout === 'conv') return [shape[3], shape[2], shape[0], shape[1]];
  return [...shape];
}

/** PyTorch layout -> tfjs layout (linear [out, in] -> [in, out]; conv [O, I, kh, kw] -> [kh, kw, I, O]). */
export function fromTorchLayout(data: Float32Array, torch: number[], layout: Layout): Float32Array {
  if (layout === 'plain') return data;
  const out = new Float32Array(data.length);
  if (layout === 'linear') {
    const [O, I] = torch;
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) out[i * O + o] = data[o * I + i];
    return out;
  }
  const [O, I, KH, KW] = torch;
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let a = 0; a < KH; a++)
        for (let b = 0; b < KW; b++) out[((a * KW + b) * I + i) * O + o] = data[((o * I + i) * KH + a) * KW + b];
  return out;
}

/** tfjs layout -> PyTorch layout (the inverse of `fromTorchLayout`). */
export function toTorchLayout(data: Float32Array, shape: number[], layout: Layout): Float32Array {
  if (layout === 'plain') return data;
  const out = new Float32Array(data.length);
  if (layout === 'linear') {
    const [I, O] = shape;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) out[o * I + i] = data[i * O + o];
    return out;
  }
  const [KH, KW, I, O] = shape;
  for (let a = 0; a < KH; a++)
    for (let b = 0; b < KW; b++)
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) out[((o * I + i) * KH + a) * KW + b] = data[((a * KW + b) * I + i) * O + o];
  return out;
}

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Mis-shaped keys always throw. */
  strict?: boolean;
  /** A prefix every key carries in the file, e.g. 'model.' for EDM/ECT preconditioner checkpoints. */
  prefix?: string;
}

export interface LoadStateDictResult {
  /** Module entries with no tensor in the state dict (PyTorch names, prefix included). */
  missing: string[];
  /** State-dict keys the module has no entry for. */
  unexpected: string[];
}

/** PyTorch layout -> tfjs layout on the device (no read back): the tensor twin of `fromTorchLayout`. */
function fromTorchLayoutOnDevice(value: tf.Tensor, layout: Layout): tf.Tensor {
  const x = value.dtype === 'float32' ? value : tf.cast(value, 'float32');
  if (layout === 'linear') return tf.transpose(x, [1, 0]);
  if (layout === 'conv') return tf.transpose(x, [2, 3, 1, 0]);
  return x;
}

function checkValue(where: string, name: string, value: HostTensor | tf.Tensor): number[] {
  if (value instanceof tf.Tensor) {
    validate(where).check(!value.isDisposed, `tensors[${name}]`, 'a live tensor', value);
    return value.shape;
  }
  if (!value || !Array.isArray(value.shape) || !(value.data instanceof Float32Array)) {
    validate(where).fail(`tensors[${name}]`, 'a tf.Tensor or {shape, data: Float32Array}', value);
  }
  return value.shape;
}

/**
 * Loads a PyTorch state dict (PyTorch names and layouts; host tensors from `readSafetensors` or tf
 * tensors) into `module`, transposing conv and linear weights. Problems are reported by name in one
 * FewstepError: missing and unexpected keys (when strict) and shape mismatches (always).
 */
export function loadStateDict(
  module: Module,
  tensors: Record<string, HostTensor | tf.Tensor>,
  opts: LoadStateDictOptions = {},
): LoadStateDictResult {
  const where = 'loadStateDict';
  const check = validate(where);
  if (!module || typeof (module as Module).namedEntries !== 'function') check.fail('module', 'a Module', module);
  if (!tensors || typeof tensors !== 'object') check.fail('tensors', 'a record of named tensors', tensors);
  const strict = opts.strict ?? true;
  const prefix = opts.prefix ?? '';
  const entries = module.namedEntries(prefix);
  const known = new Set(entries.map(([n]) => n));
  const missing: string[] = [];
  const misshaped: string[] = [];
  const updates: [tf.Variable, () => tf.Tensor][] = [];
  for (const [name, entry] of entries) {
    const value = tensors[name];
    if (value === undefined) {
      missing.push(name);
      continue;
    }
    const shape = checkValue(where, name, value);
    const want = torchShape(entry.variable.shape, entry.layout);
    if (shape.join() !== want.join()) {
      misshaped.push(`${name} (expected [${want}], got [${shape}])`);
      continue;
    }
    // Tensors are re-laid out on the device (nothing read back: safe on webgpu); host data in JS.
    const { variable, layout } = entry;
    updates.push([
      variable,
      value instanceof tf.Tensor
        ? () => fromTorchLayoutOnDevice(value, layout)
        : () => tf.tensor(fromTorchLayout(value.data, want, layout), variable.shape, 'float32'),
    ]);
  }
  const unexpected = Object.keys(tensors).filter((k) => !known.has(k));
  const problems: string[] = [];
  if (misshaped.length) problems.push(`mis-shaped: ${misshaped.join(', ')}`);
  if (strict && missing.length) problems.push(`missing: ${missing.join(', ')}`);
  if (strict && unexpected.length) problems.push(`unexpected: ${unexpected.join(', ')}`);
  if (problems.length) {
    throw new FewstepError(where, `tensors must match the module's state dict, got ${problems.join('; ')}`, 'tensors');
  }
  // Assign only after every check passed, so a failed load leaves the module unchanged.
  for (const [variable, make] of updates) {
    tf.tidy(() => variable.assign(make()));
  }
  return { missing, unexpected };
}

function checkModule(where: string, module: Module): void {
  if (!module || typeof (module as Module).namedEntries !== 'function') validate(where).fail('module', 'a Module', module);
}

function hostEntry(data: Float32Array, shape: number[], layout: Layout): HostTensor {
  return { shape: torchShape(shape, layout), data: toTorchLayout(data, shape, layout) };
}

/**
 * The module's state dict in PyTorch names and layouts (parameters and buffers), as host tensors.
 * Reads synchronously (cpu, wasm, webgl); on webgpu it throws a FewstepError naming `stateDictAsync`.
 */
export function stateDict(module: Module, opts: { prefix?: string } = {}): Record<string, HostTensor> {
  checkModule('stateDict', module);
  assertSyncRead('stateDict', 'await stateDictAsync(module)');
  const out: Record<string, HostTensor> = {};
  for (const [name, { variable, layout }] of module.namedEntries(opts.prefix ?? '')) {
    out[name] = hostEntry(Float32Array.from(variable.dataSync()), variable.shape, layout);
  }
  return out;
}

/** `stateDict` reading every variable with `await data()`: works on every backend (required on webgpu). */
export async function stateDictAsync(module: Module, opts: { prefix?: string } = {}): Promise<Record<string, HostTensor>> {
  checkModule('stateDictAsync', module);
  const entries = module.namedEntries(opts.prefix ?? '');
  // Issue every read before awaiting any, so the device is drained once.
  const values = await Promise.all(entries.map(([, e]) => e.variable.data()));
  const out: Record<string, HostTensor> = {};
  entries.forEach(([name, { variable, layout }], i) => {
    out[name] = hostEntry(Float32Array.from(values[i] as Float32Array), variable.shape, layout);
  });
  return out;
}

/** Reads a safetensors file and loads it into `module` (see `loadStateDict`). */
export function loadSafetensors(module: Module, bytes: ArrayBuffer | ArrayBufferView, opts: LoadStateDictOptions = {}): LoadStateDictResult {
  return loadStateDict(module, readSafetensors(bytes).tensors, opts);
}

/** The module's state dict as a safetensors file (PyTorch names and layouts). */
export function saveSafetensors(
  module: Module,
  opts: { prefix?: string; metadata?: Record<string, string>; dtype?: 'F32' | 'F16' | 'BF16' } = {},
): Uint8Array {
  assertSyncRead('saveSafetensors', 'await saveSafetensorsAsync(module)');
  return writeSafetensors(stateDict(module, { prefix: opts.prefix }), { metadata: opts.metadata, dtype: opts.dtype });
}

/** `saveSafetensors` reading the variables with `await data()` (every backend; required on webgpu). */
export async function saveSafetensorsAsync(
  module: Module,
  opts: { prefix?: string; metadata?: Record<string, string>; dtype?: 'F32' | 'F16' | 'BF16' } = {},
): Promise<Uint8Array> {
  return writeSafetensors(await stateDictAsync(module, { prefix: opts.prefix }), { metadata: opts.metadata, dtype: opts.dtype });
}
