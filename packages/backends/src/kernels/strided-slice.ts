import * as tf from '@tensorflow/tfjs';
import { overStock, type WasmHeap } from './over-stock';

type Values = Float32Array | Int32Array | Uint8Array;

/** Contiguous runs shorter than this are copied element by element. */
const SET_MIN_RUN = 32;

/**
 * out[i] = x[begin + i * strides] over the dense (un-shrunk) output shape; a last axis with
 * stride 1 is copied as whole runs.
 */
export function copyStrided(src: Values, dst: Values, xShape: readonly number[], begin: readonly number[], strides: readonly number[], outShape: readonly number[]): void {
  const rank = xShape.length;
  const xStrides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) xStrides[d] = xStrides[d + 1] * xShape[d + 1];
  const last = rank - 1;
  const run = strides[last] === 1 ? outShape[last] : 1;
  const outer = run > 1 ? outShape.slice(0, -1) : outShape.slice();
  const count = outer.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(outer.length).fill(0);
  for (let c = 0, o = 0; c < count; c++, o += run) {
    let s = run > 1 ? begin[last] : 0;
    for (let d = 0; d < outer.length; d++) s += (begin[d] + idx[d] * strides[d]) * xStrides[d];
    if (run >= SET_MIN_RUN) dst.set(src.subarray(s, s + run), o);
    else if (run > 1) for (let j = 0; j < run; j++) dst[o + j] = src[s + j];
    else dst[o] = src[s];
    for (let d = outer.length - 1; d >= 0; d--) {
      if (++idx[d] < outer[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * StridedSlice for wasm, read in place from the heap. Stock wasm's general case is a per-element
 * loop (~110 ns per element: 4.2 ms for every other tap of a 3x3x64x64 filter), and it returns
 * float32 for any input (an int32 slice came back as its bits read as floats); its simple cases
 * (identity, contiguous slices) stay stock.
 */
export function stridedSliceConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.StridedSlice, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    const heap = args.backend as unknown as Partial<WasmHeap>;
    if (x.dtype === 'string' || typeof heap.typedArrayFromHeap !== 'function' || typeof heap.makeOutput !== 'function') {
      return stock.kernelFunc(args);
    }
    const a = args.attrs as unknown as {
      begin: number[]; end: number[]; strides: number[];
      beginMask: number; endMask: number; ellipsisMask: number; newAxisMask: number; shrinkAxisMask: number;
    };
    const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
    // The dense output over x's axes (shrunk axes of size 1; finalShape drops them, adds new ones).
    const dense = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    if (info.isIdentity || info.sliceDim0 || info.isSimpleSlice || dense.length !== x.shape.length) {
      return stock.kernelFunc(args);
    }
    const out = heap.makeOutput(dense, x.dtype);
    if (dense.some((d) => d === 0)) return { ...out, shape: info.finalShape };
    // Views after makeOutput: an allocation may grow the heap and detach older views.
    copyStrided(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out), x.shape, info.begin, info.strides, dense);
    return { ...out, shape: info.finalShape };
  });
}
