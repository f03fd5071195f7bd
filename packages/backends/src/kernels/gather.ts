import * as tf from '@tensorflow/tfjs';
import { overStock, type WasmHeap } from './over-stock';

type Values = Float32Array | Int32Array | Uint8Array;

/** Slices shorter than this are copied element by element (a subarray + set costs ~100 ns). */
const SET_MIN_RUN = 32;

/**
 * out[b, o, i, :] = x[b, o, indices[b, i], :] over tfjs's flattened gather shapes (batch, outer,
 * dim, slice sizes), each slice copied whole.
 */
export function copyGathered(
  src: Values,
  indices: Int32Array,
  dst: Values,
  { batchSize, outerSize, dimSize, sliceSize }: { batchSize: number; outerSize: number; dimSize: number; sliceSize: number },
): void {
  const perBatch = indices.length / batchSize;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let outer = 0; outer < outerSize; outer++) {
      const base = (b * outerSize + outer) * dimSize;
      for (let i = 0; i < perBatch; i++) {
        const s = (base + indices[b * perBatch + i]) * sliceSize;
        if (sliceSize >= SET_MIN_RUN) dst.set(src.subarray(s, s + sliceSize), o);
        else for (let j = 0; j < sliceSize; j++) dst[o + j] = src[s + j];
        o += sliceSize;
      }
    }
  }
}

/**
 * GatherV2 for wasm, read and written in place on the heap. Stock wasm's is a per-element loop
 * (a gather of 32 rows of [16, 32, 32, 64] along axis 1: 86 ms, ~30x a copy); tf.gather picks a
 * training batch out of a dataset (@fewstep/data) and takes embedding rows.
 */
export function gatherConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.GatherV2, backendName, (args, stock) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const heap = args.backend as unknown as Partial<WasmHeap>;
    if (x.dtype === 'string' || indices.dtype !== 'int32' || typeof heap.typedArrayFromHeap !== 'function' || typeof heap.makeOutput !== 'function') {
      return stock.kernelFunc(args);
    }
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
    const idx = heap.typedArrayFromHeap(indices) as Int32Array;
    const dim = x.shape[parsedAxis];
    for (let i = 0; i < idx.length; i++) {
      // The stock kernel's check and message.
      if (!(idx[i] >= 0 && idx[i] <= dim - 1)) throw new Error(`GatherV2: the index value ${idx[i]} is not in [0, ${dim - 1}]`);
    }
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, parsedAxis, batchDims);
    const out = heap.makeOutput(info.outputShape, x.dtype);
    if (info.outputShape.some((d) => d === 0) || x.shape.some((d) => d === 0)) return out;
    // Views after makeOutput: an allocation may grow the heap and detach older views.
    copyGathered(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(indices) as Int32Array, heap.typedArrayFromHeap(out), info);
    return out;
  });
}
