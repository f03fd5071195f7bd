import * as tf from '@tensorflow/tfjs';
import { wasmHeap } from './heap-copy';
import { overStock } from './over-stock';
import { heapAddress, simdKernels } from '../simd/instance';
import { TRANSPOSE_FUNCTIONS } from '../simd/transpose-wat';

/**
 * The permutation with size-1 axes dropped and axes that stay neighbours merged: `shape` and
 * `perm` of an equivalent transpose of the same data.
 */
export function mergedPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((a) => shape[a] !== 1);
  // Groups of source axes that follow each other in the output: each becomes one axis.
  const groups: number[][] = [];
  for (const a of kept) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1] + 1 === a) last.push(a);
    else groups.push([a]);
  }
  const bySource = [...groups].sort((g, h) => g[0] - h[0]);
  return {
    shape: bySource.map((g) => g.reduce((n, a) => n * shape[a], 1)),
    perm: groups.map((g) => bySource.indexOf(g)),
  };
}

/**
 * Transpose for wasm: a batch of matrix transposes ([..., R, C] -> [..., C, R] once merged; every
 * product with transposeA / transposeB, a conv filter's in/out swap) runs our SIMD 4x4-block
 * transpose: 1.2-2x stock's loop for a [16, 256, 256] batch (bench:kernels: 5.1 vs 6.3 and 3.5
 * vs 7.0 ms in two runs). Other permutations, and bool tensors, take the stock kernel.
 */
export function transposeConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Transpose, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { perm } = args.attrs as unknown as { perm: number[] };
    const heap = wasmHeap(args.backend, x);
    const simd = heap === null || x.dtype === 'bool' ? null : simdKernels(args.backend, TRANSPOSE_FUNCTIONS);
    const merged = mergedPermutation(x.shape, perm);
    const r = merged.perm.length;
    const batchedMatrices = r >= 2 && merged.perm.every((a, i) => a === (i < r - 2 ? i : 2 * r - 3 - i));
    if (heap === null || simd === null || !batchedMatrices) return stock.kernelFunc(args);
    const out = heap.makeOutput(perm.map((a) => x.shape[a]), x.dtype);
    const [rows, cols] = merged.shape.slice(-2);
    const batch = merged.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const src = heapAddress(args.backend, x);
    const dst = heapAddress(args.backend, out);
    const bytes = rows * cols * 4;
    for (let b = 0; b < batch; b++) simd.transpose(src + b * bytes, dst + b * bytes, rows, cols, cols * 4, rows * 4);
    return out;
  });
}
