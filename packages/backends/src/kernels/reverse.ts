import * as tf from '@tensorflow/tfjs';
import { overStock, type WasmHeap } from './over-stock';

/** The shape as runs of adjacent dimensions that are all reversed or all kept (size 1 dropped). */
export function reverseRuns(shape: readonly number[], dims: readonly number[]): { size: number; reversed: boolean }[] {
  const runs: { size: number; reversed: boolean }[] = [];
  shape.forEach((size, axis) => {
    if (size === 1) return;
    const reversed = dims.includes(axis);
    const last = runs[runs.length - 1];
    // Reversing two adjacent axes together reverses their merged axis.
    if (last !== undefined && last.reversed === reversed) last.size *= size;
    else runs.push({ size, reversed });
  });
  return runs;
}

/** Runs shorter than this are copied element by element (a subarray + set costs ~100 ns). */
const SET_MIN_RUN = 32;

/**
 * Copies `src` into `dst` reversed along the reversed runs: the trailing kept run (if any) is a
 * contiguous block copied whole, placed in reversed order; a reversed innermost run is copied
 * element by element.
 */
export function copyReversed(
  src: Float32Array | Int32Array | Uint8Array,
  dst: Float32Array | Int32Array | Uint8Array,
  runs: { size: number; reversed: boolean }[],
): void {
  const tail = runs.length > 0 && !runs[runs.length - 1].reversed ? runs[runs.length - 1].size : 1;
  const outer = tail > 1 ? runs.slice(0, -1) : runs;
  const rank = outer.length;
  const strides = new Array<number>(rank).fill(tail);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * outer[d + 1].size;
  const count = outer.reduce((a, r) => a * r.size, 1);
  const idx = new Array<number>(rank).fill(0);
  for (let c = 0, o = 0; c < count; c++, o += tail) {
    let s = 0;
    for (let d = 0; d < rank; d++) s += (outer[d].reversed ? outer[d].size - 1 - idx[d] : idx[d]) * strides[d];
    if (tail >= SET_MIN_RUN) dst.set(src.subarray(s, s + tail), o);
    else for (let j = 0; j < tail; j++) dst[o + j] = src[s + j];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outer[d].size) break;
      idx[d] = 0;
    }
  }
}

/**
 * Reverse for wasm, read in place from the heap. Stock wasm's Reverse took 2.3 ms to flip a
 * [3, 3, 64, 64] filter (a 0.1 ms copy) and 95 ms for one axis of [16, 32, 32, 64]: every input
 * gradient of a conv flips its filter, so it was ~40% of the input gradient at 8x8.
 */
export function reverseConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Reverse, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    const heap = args.backend as unknown as Partial<WasmHeap>;
    if (x.dtype === 'string' || typeof heap.typedArrayFromHeap !== 'function' || typeof heap.makeOutput !== 'function') {
      return stock.kernelFunc(args);
    }
    const { dims } = args.attrs as unknown as { dims: number | number[] };
    const axes = tf.util.parseAxisParam(dims, x.shape);
    const out = heap.makeOutput(x.shape, x.dtype);
    if (x.shape.some((n) => n === 0)) return out;
    // Views after makeOutput: an allocation may grow the heap and detach older views.
    copyReversed(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out), reverseRuns(x.shape, axes));
    return out;
  });
}
