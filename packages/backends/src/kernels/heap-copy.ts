import type * as tf from '@tensorflow/tfjs';
import type { WasmHeap } from './over-stock';
import { simdKernels } from '../simd/instance';
import { TRANSPOSE_FUNCTIONS } from '../simd/transpose-wat';

export type HeapValues = Float32Array | Int32Array | Uint8Array;

/** Contiguous runs shorter than this are copied element by element (a subarray + set costs ~100 ns). */
const SET_MIN_RUN = 32;

/** dst[o, o + n) = src[s, s + n): one set for long runs, a loop for short ones. */
export function copyRun(src: HeapValues, dst: HeapValues, s: number, o: number, n: number): void {
  if (n >= SET_MIN_RUN) dst.set(src.subarray(s, s + n), o);
  else for (let j = 0; j < n; j++) dst[o + j] = src[s + j];
}

/**
 * Copies `count` runs of `run` elements, the i-th from src[s + i srcStride] to
 * dst[o + i dstStride] (element indices of the two views).
 */
export type RunCopier = (s: number, o: number, count: number, run: number, srcStride: number, dstStride: number) => void;

/** Our SIMD run copy between two 4-byte views of a wasm backend's heap, or null. */
export function simdRunCopier(backend: unknown, src: HeapValues, dst: HeapValues): RunCopier | null {
  if (src.BYTES_PER_ELEMENT !== 4 || dst.BYTES_PER_ELEMENT !== 4) return null;
  const simd = simdKernels(backend, TRANSPOSE_FUNCTIONS);
  if (simd === null) return null;
  return (s, o, count, run, srcStride, dstStride) =>
    simd.copyRuns(src.byteOffset + s * 4, dst.byteOffset + o * 4, count, run, srcStride * 4, dstStride * 4);
}

/**
 * dst[i] = src[begin + i * strides] for i over `outShape` (src of shape `shape`, row-major, any
 * strides including negative ones). A last axis of stride 1 is copied as whole runs; with
 * `runs` (our SIMD copy), the runs along the axis before it in one call.
 */
export function copyStrided(
  src: HeapValues,
  dst: HeapValues,
  shape: readonly number[],
  begin: readonly number[],
  strides: readonly number[],
  outShape: readonly number[],
  runs: RunCopier | null = null,
): void {
  const rank = shape.length;
  const srcStrides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) srcStrides[d] = srcStrides[d + 1] * shape[d + 1];
  const last = rank - 1;
  const run = rank > 0 && strides[last] === 1 ? outShape[last] : 1;
  const outer = run > 1 ? outShape.slice(0, -1) : outShape.slice();
  // With `runs`, the innermost outer axis goes in one call: `batch` runs per step of the loop.
  const batched = runs !== null && run > 1 && outer.length > 0;
  const batch = batched ? outer[outer.length - 1] : 1;
  const loopAxes = batched ? outer.length - 1 : outer.length;
  const count = outer.slice(0, loopAxes).reduce((a, b) => a * b, 1);
  const idx = new Array<number>(loopAxes).fill(0);
  for (let c = 0, o = 0; c < count; c++, o += run * batch) {
    let s = run > 1 ? begin[last] : 0;
    for (let d = 0; d < loopAxes; d++) s += (begin[d] + idx[d] * strides[d]) * srcStrides[d];
    if (batched) {
      const d = loopAxes;
      runs(s + begin[d] * srcStrides[d], o, batch, run, strides[d] * srcStrides[d], run);
    } else copyRun(src, dst, s, o, run);
    for (let d = loopAxes - 1; d >= 0; d--) {
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
