import type * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';
import { wasmHeap } from './heap-copy';
import { heapAliases, withHeapAlias } from './heap-alias';
import type { WasmHeap } from './over-stock';
import { heapAddress, simdKernels } from '../simd/instance';
import { TRANSPOSE_FUNCTIONS } from '../simd/transpose-wat';

type TensorInfo = tf.TensorInfo;

/**
 * The stride-1 filter gradient (NHWC, wasm) as KH matrix products with a long contraction:
 * dW[kh, kw, ci, co] = sum_m xpT[ci, m + kh W' + kw] dyP[m, co] over the positions m of a
 * grid [N, H', W'] (K = N H' W' of them) holding x at (top, left) of each image and zeros
 * around it, where xpT is that grid transposed to [Ci, K], and dyP is dy placed in the same
 * grid, zero outside [Ho, Wo] (a window running past a row or an image meets the next one's
 * zero padding; past the tensor, zeros of X).
 * Rows (kw, ci) of X = xpT shifted left by kw are built once (KW transposed copies of x, by our
 * SIMD transpose); then each kh is the product of the [KW Ci, K] matrix starting kh W' elements
 * into X (a view, not a copy) with dyP [K, Co]. Measured against the conv form it replaces (one conv with dy as a 32x32 filter
 * over N = 16 channels, whose indirection runs 16 multiply-adds per pointer): 1.3-1.5x faster at
 * [16, 32, 32, 32] and [16, 16, 16, 64]; equal at 8x8. Returns null off the wasm heap.
 */
export function filterGradByRows(
  r: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  kh: number,
  kw: number,
  top: number,
  left: number,
): TensorInfo | null {
  const heap = wasmHeap(r.backend, x);
  if (heap === null || x.dtype !== 'float32' || !heapAliases(r.backend)) return null;
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const { gridH, gridW } = gridOf(x.shape, dy.shape, kh, kw, top, left);
  const K = n * gridH * gridW;
  const dyP = r.track(heap.makeOutput([1, K, co], 'float32'));
  placeInGrid(heap.typedArrayFromHeap(dy) as Float32Array, heap.typedArrayFromHeap(dyP) as Float32Array, n, ho, wo * co, gridH, gridW * co);
  const grid: Grid = { n, h, w, ci, gridH, gridW, top, left, kh, kw };
  const X = shiftedRowsSimd(r, heap, x, grid) ?? shiftedRowsByCopies(r, heap, x, grid);
  const parts: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    parts.push(withHeapAlias(r.backend, X, i * gridW, [1, kw * ci, K], (a) => r.run('BatchMatMul', { a, b: dyP }, { transposeA: false, transposeB: false })));
  }
  const g = parts.length === 1 ? parts[0] : r.run('Concat', parts as never, { axis: 0 }); // [KH, KW Ci, Co]
  return r.reshape(g, [kh, kw, ci, co]);
}

/**
 * The grid's image size [H', W']. Each image row of the grid: left pad, x, then zeros up to
 * W' = W + max(left, right): the next row's left pad doubles as this row's right pad (and
 * likewise between images), so fewer positions than the padded x ([16, 8, 8, 64] 3x3 'same': 81
 * per image, not 100).
 */
export function gridOf(xShape: readonly number[], dyShape: readonly number[], kh: number, kw: number, top: number, left: number): { gridH: number; gridW: number } {
  const [, h, w] = xShape;
  const [, ho, wo] = dyShape;
  const bottom = ho + kh - 1 - top - h;
  const right = wo + kw - 1 - left - w;
  return { gridH: Math.max(h + Math.max(top, bottom), ho), gridW: Math.max(w + Math.max(left, right), wo) };
}

/** x's geometry in the padded grid [N, H', W'] of K positions, and the filter's size. */
export interface Grid {
  n: number;
  h: number;
  w: number;
  ci: number;
  gridH: number;
  gridW: number;
  top: number;
  left: number;
  kh: number;
  kw: number;
}

/**
 * X [KW Ci rows of K, then (KH - 1) W' zeros]: row (kw, ci) holds xpT[ci, m + kw], where xpT is
 * x padded to the grid and transposed to [Ci, K]; its last kw entries are zero. This one pads,
 * transposes (stock kernels) and copies rows in JS (where wasm SIMD is missing).
 */
export function shiftedRowsByCopies(r: KernelRunner, heap: WasmHeap, x: TensorInfo, g: Grid): TensorInfo {
  const K = g.n * g.gridH * g.gridW;
  const xp = r.pad(x, [
    [0, 0],
    [g.top, g.gridH - g.top - g.h],
    [g.left, g.gridW - g.left - g.w],
    [0, 0],
  ]);
  const xpT = r.transpose(xp, [3, 0, 1, 2]); // [Ci, N, H', W'] = [Ci, K]
  const X = r.track(heap.makeOutput([g.kw * g.ci * K + tailOf(g)], 'float32'));
  const src = heap.typedArrayFromHeap(xpT) as Float32Array;
  const dst = heap.typedArrayFromHeap(X) as Float32Array;
  for (let j = 0; j < g.kw; j++) {
    for (let c = 0; c < g.ci; c++) {
      const o = (j * g.ci + c) * K;
      dst.set(src.subarray(c * K + j, (c + 1) * K), o);
      dst.fill(0, o + K - j, o + K);
    }
  }
  dst.fill(0, g.kw * g.ci * K);
  return X;
}

/**
 * The same X written by our SIMD transpose straight from x (no padded copy, no stock transpose,
 * no row copies): each image row [W, Ci] of x goes, transposed, to KW places of X (kw floats
 * apart in each row). Writes before a row's start (kw > left on the grid's first row) land in
 * the previous row's last kw entries (row (kw, ci) has one before it for kw > 0), zeroed after.
 */
export function shiftedRowsSimd(r: KernelRunner, heap: WasmHeap, x: TensorInfo, g: Grid): TensorInfo | null {
  const simd = simdKernels(r.backend, TRANSPOSE_FUNCTIONS);
  if (simd === null) return null;
  const K = g.n * g.gridH * g.gridW;
  const rows = g.kw * g.ci;
  const X = r.track(heap.makeOutput([rows * K + tailOf(g)], 'float32'));
  const dst = heap.typedArrayFromHeap(X) as Float32Array;
  dst.fill(0);
  const xAt = heapAddress(r.backend, x);
  const XAt = heapAddress(r.backend, X);
  for (let b = 0; b < g.n; b++) {
    for (let i = 0; i < g.h; i++) {
      const src = xAt + (b * g.h + i) * g.w * g.ci * 4;
      const p0 = (b * g.gridH + i + g.top) * g.gridW + g.left;
      for (let j = 0; j < g.kw; j++) simd.transpose(src, XAt + (j * g.ci * K + p0 - j) * 4, g.w, g.ci, g.ci * 4, K * 4);
    }
  }
  for (let row = 0; row < rows; row++) {
    const j = Math.floor(row / g.ci);
    dst.fill(0, (row + 1) * K - j, (row + 1) * K);
  }
  return X;
}

/** Zeros after the last row of X, for the view of the last filter row: (KH - 1) W' of them. */
function tailOf(g: Grid): number {
  return (g.kh - 1) * g.gridW;
}

/**
 * dy [N, Ho, Wo C] into the top left of each image of a zeroed grid [N, H', W' C], a row at a
 * time (stock wasm PadV2 took 2.4 ms for [16, 32, 32, 32]; this ~0.5).
 */
function placeInGrid(src: Float32Array, dst: Float32Array, n: number, rows: number, row: number, gridRows: number, gridRow: number): void {
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < rows; i++) {
      const s = (b * rows + i) * row;
      dst.set(src.subarray(s, s + row), (b * gridRows + i) * gridRow);
    }
  }
}
