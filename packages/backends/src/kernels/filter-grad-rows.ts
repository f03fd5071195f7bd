import type * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';
import { wasmHeap } from './heap-copy';

type TensorInfo = tf.TensorInfo;

/** The parts of tfjs's wasm backend an alias needs: its tensor table and the C++ registry. */
interface WasmTables {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined; delete(dataId: object): void };
  wasm: { tfjs: { disposeData(id: number): void } };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
}

/**
 * Runs `body` with a float32 tensor of `shape` whose data is `owner`'s memory from element
 * `start` on (no copy), then unregisters it without freeing: the memory stays `owner`'s.
 */
function withAlias<T>(backend: WasmTables, owner: TensorInfo, start: number, shape: number[], body: (alias: TensorInfo) => T): T {
  const size = shape.reduce((a, b) => a * b, 1);
  const ownerSize = owner.shape.reduce((a, b) => a * b, 1);
  if (start < 0 || start + size > ownerSize) throw new Error('@fewstep/backends: alias out of its owner tensor');
  const base = backend.dataIdMap.get(owner.dataId)?.memoryOffset;
  if (base === undefined) throw new Error('@fewstep/backends: alias of a tensor not on the wasm heap');
  const alias = backend.makeOutput(shape, 'float32', base + start * 4);
  try {
    return body(alias);
  } finally {
    const entry = backend.dataIdMap.get(alias.dataId);
    if (entry !== undefined) backend.wasm.tfjs.disposeData(entry.id);
    backend.dataIdMap.delete(alias.dataId);
  }
}

/**
 * The stride-1 filter gradient (NHWC, wasm) as KH matrix products with a long contraction:
 * dW[kh, kw, ci, co] = sum_m xpT[ci, m + kh W' + kw] dyP[m, co] over the positions m of the
 * padded grid [N, H', W'] (K = N H' W' of them), where xpT is x padded to that grid and
 * transposed to [Ci, K], and dyP is dy placed in the same grid, zero outside [Ho, Wo] (so a
 * window running past a row, an image or the tensor meets only zeros of dy).
 * Rows (kw, ci) of X = xpT shifted left by kw are built once (KW copies of x); then each kh is
 * the product of the [KW Ci, K] matrix starting kh W' elements into X (a view, not a copy) with
 * dyP [K, Co]. Measured against the conv form it replaces (one conv with dy as a 32x32 filter
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
  const backend = r.backend as unknown as WasmTables;
  const heap = wasmHeap(r.backend, x);
  if (heap === null || x.dtype !== 'float32' || typeof backend.wasm?.tfjs?.disposeData !== 'function') return null;
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const gridH = ho + kh - 1;
  const gridW = wo + kw - 1;
  const K = n * gridH * gridW;
  const xp = r.pad(x, [
    [0, 0],
    [top, gridH - top - h],
    [left, gridW - left - w],
    [0, 0],
  ]);
  const xpT = r.transpose(xp, [3, 0, 1, 2]); // [Ci, N, H', W'] = [Ci, K]
  const dyP = r.reshape(r.pad(dy, [[0, 0], [0, kh - 1], [0, kw - 1], [0, 0]]), [1, K, co]);
  // X rows (kw, ci): xpT's row ci from element kw on, zero-filled at the end; plus (KH - 1) W'
  // zeros after the last row for the view of the last kh.
  const rows = kw * ci;
  const tail = (kh - 1) * gridW;
  const X = r.track(heap.makeOutput([rows * K + tail], 'float32'));
  const src = heap.typedArrayFromHeap(xpT) as Float32Array;
  const dst = heap.typedArrayFromHeap(X) as Float32Array;
  for (let j = 0; j < kw; j++) {
    for (let c = 0; c < ci; c++) {
      const o = (j * ci + c) * K;
      dst.set(src.subarray(c * K + j, (c + 1) * K), o);
      dst.fill(0, o + K - j, o + K);
    }
  }
  dst.fill(0, rows * K);
  const parts: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    parts.push(withAlias(backend, X, i * gridW, [1, rows, K], (a) => r.run('BatchMatMul', { a, b: dyP }, { transposeA: false, transposeB: false })));
  }
  const g = parts.length === 1 ? parts[0] : r.run('Concat', parts as never, { axis: 0 }); // [KH, KW Ci, Co]
  return r.reshape(g, [kh, kw, ci, co]);
}
