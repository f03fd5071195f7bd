import * as tf from '@tensorflow/tfjs';
import { copyStrided, wasmHeap, simdRunCopier } from './heap-copy';
import { overStock, type WasmHeap } from './over-stock';

/**
 * The same slice over fewer dimensions: a dimension taken whole merges into the one before it
 * (rows [b, b + s) of [a, c] taken whole along c are elements [b c, (b + s) c) of [a c]).
 */
export function mergeSliceDims(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const out = { shape: [] as number[], begin: [] as number[], size: [] as number[] };
  shape.forEach((n, i) => {
    const whole = begin[i] === 0 && size[i] === n;
    const g = out.shape.length - 1;
    if (g < 0 || !whole) {
      out.shape.push(n);
      out.begin.push(begin[i]);
      out.size.push(size[i]);
    } else {
      out.shape[g] *= n;
      out.begin[g] *= n;
      out.size[g] *= n;
    }
  });
  return out;
}

/**
 * Slice for wasm. The stock kernel first copies the WHOLE input out of the heap (readSync), then
 * copies each innermost run with a subarray + set: slicing one matrix out of a batch of 8 costs
 * 8 matrices of copying (BatchMatMul's loop over attention heads), and a rank > 4 slice takes a
 * generic per-element loop (~300x an Add; the gradient of nn's rank-5 zero-insertion pads). Ours
 * reads the heap in place, over merged dimensions, copying short runs element by element.
 */
export function sliceConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Slice, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!hasHeap(args.backend, x)) return stock.kernelFunc(args);
    const attrs = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
    return heapSlice(args.backend as unknown as WasmHeap, x, begin, size);
  });
}

/** x[begin : begin + size] as a new wasm tensor, read in place from the heap. */
function heapSlice(heap: WasmHeap, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = heap.makeOutput(size, x.dtype);
  if (size.some((n) => n === 0)) return out;
  // Views after makeOutput: an allocation may grow the heap and detach older views.
  const src = heap.typedArrayFromHeap(x);
  const dst = heap.typedArrayFromHeap(out);
  const m = mergeSliceDims(x.shape, begin, size);
  copyStrided(src, dst, m.shape, m.begin, m.shape.map(() => 1), m.size, simdRunCopier(heap, src, dst));
  return out;
}

const hasHeap = (backend: unknown, x: tf.TensorInfo): boolean => wasmHeap(backend, x) !== null;

/**
 * Unpack (tf.unstack) and SplitV (tf.split) for wasm: the stock kernels call the stock slice
 * directly, so each output copied the whole input first (the attention's q/k/v unstack: 2.5% of
 * a unet-s32 step). Ours slice in place like our Slice.
 */
export function unpackConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Unpack, backendName, (args, stock) => {
    const x = args.inputs.value as tf.TensorInfo;
    if (!hasHeap(args.backend, x)) return stock.kernelFunc(args);
    const rank = x.shape.length;
    const axis = ((args.attrs as unknown as { axis: number }).axis + rank) % rank;
    const size = x.shape.map((n, i) => (i === axis ? 1 : n));
    const outShape = x.shape.filter((_, i) => i !== axis);
    return Array.from({ length: x.shape[axis] }, (_, k) => {
      const begin = x.shape.map((_n, i) => (i === axis ? k : 0));
      return { ...heapSlice(args.backend as unknown as WasmHeap, x, begin, size), shape: outShape };
    });
  });
}

export function splitVConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.SplitV, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!hasHeap(args.backend, x)) return stock.kernelFunc(args);
    const attrs = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
    let offset = 0;
    return sizes.map((s) => {
      const begin = x.shape.map((_, i) => (i === axis ? offset : 0));
      const size = x.shape.map((n, i) => (i === axis ? s : n));
      offset += s;
      return heapSlice(args.backend as unknown as WasmHeap, x, begin, size);
    });
  });
}
