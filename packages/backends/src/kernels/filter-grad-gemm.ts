import type * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';
import { wasmHeap } from './heap-copy';
import { gridOf } from './filter-grad-rows';
import { heapAddress, simdKernels, simdSupported } from '../simd/instance';
import { gemmFunctions, PANEL, TILE_ROWS } from '../simd/gemm-wat';
import { TRANSPOSE_FUNCTIONS } from '../simd/transpose-wat';
import { runSplit } from '../simd/pool';

type TensorInfo = tf.TensorInfo;

/**
 * The stride-1 filter gradient (NHWC, wasm) by our SIMD GEMM: with x laid transposed into the
 * zero-padded grid of filterGradByRows (xT [Ci, K], K = N H' W' positions) and dy packed into
 * panels of 8 channels over the same grid (dyP [Co / 8, K, 8]),
 *   dW[kh, kw, ci, co] = sum_m xT[ci, m + kh W' + kw] dyP[m, co],
 * so every tap's left-hand rows are xT read from an offset: one transposed copy of x, where the
 * XNNPACK products needed KW shifted copies and a packed dy per product. The GEMM blocks the
 * long contraction (K ~ 17k) so that its operands stay in cache, and the rows of every tap are
 * split between this thread and the SIMD pool's worker (simd/pool.ts) where one runs.
 * Needs Ci a multiple of 4 and Co of 8; null otherwise or off the wasm heap.
 */
export function filterGradByGemm(
  r: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  kh: number,
  kw: number,
  top: number,
  left: number,
): TensorInfo | null {
  const heap = wasmHeap(r.backend, x);
  const functions = gemmFunctions();
  const simd = simdKernels(r.backend, TRANSPOSE_FUNCTIONS);
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  if (heap === null || simd === null || !simdSupported(functions) || x.dtype !== 'float32') return null;
  if (ci % TILE_ROWS !== 0 || co % PANEL !== 0) return null;
  const { gridH, gridW } = gridOf(x.shape, dy.shape, kh, kw, top, left);
  const K = n * gridH * gridW;
  // Each row of xT: the grid's K positions, then zeros for the windows that run past its end.
  const row = K + (kh - 1) * gridW + kw - 1;
  const xT = r.track(heap.makeOutput([ci, row], 'float32'));
  const dyP = r.track(heap.makeOutput([co / PANEL, K, PANEL], 'float32'));
  (heap.typedArrayFromHeap(xT) as Float32Array).fill(0);
  (heap.typedArrayFromHeap(dyP) as Float32Array).fill(0);
  const [xAt, xTAt, dyAt, dyPAt] = [x, xT, dy, dyP].map((t) => heapAddress(r.backend, t));
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      const at = (b * gridH + i + top) * gridW + left;
      simd.transpose(xAt + (b * h + i) * w * ci * 4, xTAt + at * 4, w, ci, ci * 4, row * 4);
    }
    for (let i = 0; i < ho; i++) {
      const from = dyAt + (b * ho + i) * wo * co * 4;
      const at = (b * gridH + i) * gridW;
      for (let p = 0; p < co / PANEL; p++) {
        simd.copyRuns(from + p * PANEL * 4, dyPAt + (p * K + at) * PANEL * 4, wo, PANEL, co * 4, PANEL * 4);
      }
    }
  }
  const out = r.track(heap.makeOutput([kh, kw, ci, co], 'float32'));
  (heap.typedArrayFromHeap(out) as Float32Array).fill(0);
  const outAt = heapAddress(r.backend, out);
  // Rows [0, half) of every tap on this thread, [half, Ci) on the pool's worker.
  const half = Math.floor(ci / (2 * TILE_ROWS)) * TILE_ROWS;
  const calls: number[][] = [];
  for (const [from, rows] of [[0, half], [half, ci - half]]) {
    for (let t = 0; t < kh * kw; t++) {
      const shift = Math.floor(t / kw) * gridW + (t % kw);
      const a = xTAt + (from * row + shift) * 4;
      const c = outAt + (t * ci + from) * co * 4;
      calls.push([a, row * 4, dyPAt, c, co * 4, rows, co / PANEL, K]);
    }
  }
  runSplit(r.backend, functions, 'gemm', calls, kh * kw);
  return out;
}
