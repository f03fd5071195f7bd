import type * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';
import { wasmHeap } from './heap-copy';
import { heapAddress, simdKernels, simdSupported } from '../simd/instance';
import { gemmFunctions, PANEL, TILE_ROWS } from '../simd/gemm-wat';
import { TRANSPOSE_FUNCTIONS } from '../simd/transpose-wat';
import { runSplit } from '../simd/pool';

type TensorInfo = tf.TensorInfo;

/**
 * A batch of products a [B, M, K] x b [B, K, N] (wasm, float32) by our SIMD GEMM: b packed into
 * panels of 8 columns ([B, N / 8, K, 8], one copy pass), then one GEMM call per matrix, the
 * batch's second half on the SIMD pool's worker where one runs. XNNPACK ran each matrix as its
 * own product: an operator created and packed, and its pool woken, 16 times per attention call.
 * Needs M a multiple of 4 and N of 8; null otherwise or off the wasm heap.
 */
export function batchedByGemm(r: KernelRunner, a: TensorInfo, b: TensorInfo): TensorInfo | null {
  const heap = wasmHeap(r.backend, a);
  const functions = gemmFunctions();
  const simd = simdKernels(r.backend, TRANSPOSE_FUNCTIONS);
  const [batch, m, k] = a.shape;
  const [batchB, , n] = b.shape;
  if (heap === null || simd === null || !simdSupported(functions) || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (batch !== batchB || m % TILE_ROWS !== 0 || n % PANEL !== 0) return null;
  const panels = n / PANEL;
  const packed = r.track(heap.makeOutput([batch, panels, k, PANEL], 'float32'));
  const out = r.track(heap.makeOutput([batch, m, n], 'float32'));
  (heap.typedArrayFromHeap(out) as Float32Array).fill(0); // the GEMM accumulates
  const [aAt, bAt, packedAt, outAt] = [a, b, packed, out].map((t) => heapAddress(r.backend, t));
  for (let i = 0; i < batch; i++) {
    for (let p = 0; p < panels; p++) {
      simd.copyRuns(bAt + (i * k * n + p * PANEL) * 4, packedAt + (i * panels + p) * k * PANEL * 4, k, PANEL, n * 4, PANEL * 4);
    }
  }
  const calls: number[][] = [];
  for (let i = 0; i < batch; i++) calls.push([aAt + i * m * k * 4, k * 4, packedAt + i * n * k * 4, outAt + i * m * n * 4, n * 4, m, panels, k]);
  runSplit(r.backend, functions, 'gemm', calls, Math.ceil(batch / 2));
  return out;
}
