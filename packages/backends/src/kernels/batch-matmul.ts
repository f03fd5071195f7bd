import * as tf from '@tensorflow/tfjs';
import { KernelRunner } from '../kernel-runner';
import { overStock } from './over-stock';
import { heapAliases, withHeapAlias } from './heap-alias';
import { batchedByGemm } from './batch-gemm';

type TensorInfo = tf.TensorInfo;

/** Below this many multiply-adds per matrix, one stock call beats a loop of calls. */
export const LOOP_MIN_MACS = 32 * 32 * 32;

/**
 * BatchMatMul through wasm's fast path only: stock wasm runs a naive loop (~1-2 GFLOP/s, vs
 * ~20 on its XNNPACK path) whenever transposeA / transposeB is set or the batch is > 1, i.e.
 * for every dense-layer gradient and all of attention. So: transpose explicitly (memory-bound,
 * cheap), fold a shared right-hand matrix into the rows, and run big batched products by our
 * SIMD GEMM (batch-gemm.ts), else as a loop of single products.
 */
export function fastBatchMatMul(
  r: KernelRunner,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  stock: tf.KernelConfig,
): TensorInfo {
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  let a3 = to3d(r, a, transposeA);
  const b3 = to3d(r, b, transposeB);
  const [bA, m, k] = a3.shape;
  const [bB, , n] = b3.shape;
  const product = (x: TensorInfo, y: TensorInfo) => r.track(runStock(r, stock, x, y));
  let out: TensorInfo;
  // A batch of equal-sized products: our SIMD GEMM where its tiles fit (the batch split with the
  // SIMD pool's worker), else a loop of single products below.
  const gemmed = bA === bB && bA > 1 && m * k * n >= LOOP_MIN_MACS ? batchedByGemm(r, a3, b3) : null;
  if (gemmed !== null) out = gemmed;
  else if (bA === bB && (bA === 1 || m * k * n < LOOP_MIN_MACS)) out = product(a3, b3);
  else if (bB === 1) {
    a3 = r.reshape(a3, [1, bA * m, k]);
    out = r.reshape(product(a3, b3), [bA, m, n]);
  } else if (bA === bB || bA === 1) {
    // Each matrix of the batch: a view of its block on the wasm heap (no copy), else a slice.
    const views = heapAliases(r.backend);
    const matrix = (t: TensorInfo, i: number, rows: number, cols: number, use: (v: TensorInfo) => TensorInfo) =>
      views ? withHeapAlias(r.backend, t, i * rows * cols, [1, rows, cols], use) : use(r.slice(t, [i, 0, 0], [1, rows, cols]));
    const parts: TensorInfo[] = [];
    for (let i = 0; i < bB; i++) {
      const withA = (use: (v: TensorInfo) => TensorInfo) => (bA === 1 ? use(a3) : matrix(a3, i, m, k, use));
      parts.push(withA((ai) => matrix(b3, i, k, n, (bi) => product(ai, bi))));
    }
    out = r.run('Concat', parts as unknown as Record<string, TensorInfo>, { axis: 0 });
  } else {
    out = product(a3, b3); // broadcasting batch shapes: the stock kernel decides
  }
  return r.reshape(out, [...outer, m, n]);
}

/** [..., rows, cols] as [batch, rows, cols], transposed to [batch, cols, rows] when asked. */
function to3d(r: KernelRunner, t: TensorInfo, transpose: boolean): TensorInfo {
  const rank = t.shape.length;
  const batch = t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const t3 = r.reshape(t, [batch, t.shape[rank - 2], t.shape[rank - 1]]);
  return transpose ? r.transpose(t3, [0, 2, 1]) : t3;
}

function runStock(r: KernelRunner, stock: tf.KernelConfig, a: TensorInfo, b: TensorInfo): TensorInfo {
  return stock.kernelFunc({
    inputs: { a, b },
    attrs: { transposeA: false, transposeB: false },
    backend: r.backend,
  }) as TensorInfo;
}

export function batchMatMulConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.BatchMatMul, backendName, ({ inputs, backend, attrs }, stock) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stock.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
    }
    return KernelRunner.use(backend as tf.KernelBackend, backendName, (r) =>
      fastBatchMatMul(r, a, b, transposeA, transposeB, stock),
    );
  });
}
