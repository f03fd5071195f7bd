import type * as tf from '@tensorflow/tfjs';
import type { WasmHeap } from './over-stock';

export type HeapValues = Float32Array | Int32Array | Uint8Array;

/** Contiguous runs shorter than this are copied element by element (a subarray + set costs ~100 ns). */
const SET_MIN_RUN = 32;

/** dst[o, o + n) = src[s, s + n): one set for long runs, a loop for short ones. */
export function copyRun(src: HeapValues, dst: HeapValues, s: number, o: number, n: number): void {
  if (n >= SET_MIN_RUN) dst.set(src.subarray(s, s + n), o);
  else for (let j = 0; j < n; j++) dst[o + j] = src[s + j];
}

/**
 * dst[i] = src[begin + i * strides] for i over `outShape` (src of shape `shape`, row-major, any
 * strides including negative ones). A last axis of stride 1 is copied as whole runs.
 */
export function copyStrided(
  src: HeapValues,
  dst: HeapValues,
  shape: readonly number[],
  begin: readonly number[],
  strides: readonly number[],
  outShape: readonly number[],
): void {
  const rank = shape.length;
  const srcStrides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) srcStrides[d] = srcStrides[d + 1] * shape[d + 1];
  const last = rank - 1;
  const run = rank > 0 && strides[last] === 1 ? outShape[last] : 1;
  const outer = run > 1 ? outShape.slice(0, -1) : outShape.slice();
  const count = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(outer.length).fill(0);
  for (let c = 0, o = 0; c < count; c++, o += run) {
    let s = run > 1 ? begin[last] : 0;
    for (let d = 0; d < outer.length; d++) s += (begin[d] + idx[d] * strides[d]) * srcStrides[d];
    copyRun(src, dst, s, o, run);
    for (let d = outer.length - 1; d >= 0; d--) {
      if (++idx[d] < outer[d]) break;
      idx[d] = 0;
    }
  }
}

/** The shape as runs of adjacent axes that are all in `axes` or all not (size-1 axes dropped). */
export function axisRuns(shape: readonly number[], axes: readonly number[]): { size: number; marked: boolean }[] {
  const runs: { size: number; marked: boolean }[] = [];
  shape.forEach((size, axis) => {
    if (size === 1) return;
    const marked = axes.includes(axis);
    const last = runs[runs.length - 1];
    if (last !== undefined && last.marked === marked) last.size *= size;
    else runs.push({ size, marked });
  });
  return runs;
}

/** The wasm backend's heap access, or null (another backend, or strings). */
export function wasmHeap(backend: unknown, x: tf.TensorInfo): WasmHeap | null {
  const heap = backend as Partial<WasmHeap>;
  const ok = x.dtype !== 'string' && typeof heap.typedArrayFromHeap === 'function' && typeof heap.makeOutput === 'function';
  return ok ? (heap as WasmHeap) : null;
}
