import * as tf from '@tensorflow/tfjs';
import { copyStrided, wasmHeap, simdRunCopier } from './heap-copy';
import { overStock } from './over-stock';

/**
 * StridedSlice for wasm, read in place from the heap. Stock wasm's general case is a per-element
 * loop (~110 ns per element: 4.2 ms for every other tap of a 3x3x64x64 filter), and it returns
 * float32 for any input (an int32 slice came back as its bits read as floats); its simple cases
 * (identity, contiguous slices) stay stock.
 */
export function stridedSliceConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.StridedSlice, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    const heap = wasmHeap(args.backend, x);
    if (heap === null) return stock.kernelFunc(args);
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
    const [src, dst] = [heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out)];
    copyStrided(src, dst, x.shape, info.begin, info.strides, dense, simdRunCopier(heap, src, dst));
    return { ...out, shape: info.finalShape };
  });
}
