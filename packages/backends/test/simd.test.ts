import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KernelRunner } from '../src/kernel-runner';
import { assembleModule, moduleText } from '../src/simd/assemble';
import { GROUP_NORM_PASSES } from '../src/simd/group-norm-wat';
import { heapAddress, simdKernels } from '../src/simd/instance';
import { TRANSPOSE_FUNCTIONS } from '../src/simd/transpose-wat';
import { shiftedRowsByCopies, shiftedRowsSimd, type Grid } from '../src/kernels/filter-grad-rows';
import type { WasmHeap } from '../src/kernels/over-stock';
import { seeded } from './helpers';

describe('our wasm SIMD modules', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  test('assemble into valid modules over a plain and a shared memory (< 4 KB: Chromium compiles them on its main thread)', () => {
    for (const functions of [GROUP_NORM_PASSES, TRANSPOSE_FUNCTIONS]) {
      for (const sharedMemory of [false, true]) {
        const bytes = assembleModule({ functions, sharedMemory });
        expect(WebAssembly.validate(bytes)).toBe(true);
        expect(bytes.length).toBeLessThan(4096);
      }
    }
    expect(moduleText({ functions: TRANSPOSE_FUNCTIONS, sharedMemory: true })).toMatch(/^\(module \(import "env" "memory" \(memory 1 65536 shared\)\)/);
  });

  test('the assembler names what it cannot read', () => {
    const bad = (body: string) => () => assembleModule({ functions: [{ name: 'f', params: [['$a', 'i32']], body }], sharedMemory: false });
    expect(bad('local.get $b')).toThrow(/assembling f: unknown local \$b/);
    expect(bad('f32x4.frobnicate')).toThrow(/unknown instruction f32x4.frobnicate/);
    expect(bad('block $x')).toThrow(/not closed by end/);
    expect(bad('br $nowhere')).toThrow(/unknown label \$nowhere/);
  });

  test('one instance per heap: the same exports on every call', () => {
    const be = tf.backend();
    expect(simdKernels(be, TRANSPOSE_FUNCTIONS)).toBe(simdKernels(be, TRANSPOSE_FUNCTIONS));
    expect(simdKernels({}, TRANSPOSE_FUNCTIONS)).toBeNull(); // not a wasm backend
  });

  // 4x4 blocks, each edge (rows % 4, cols % 4), both, single rows / columns, strides > width.
  const shapes: [number, number][] = [[4, 4], [8, 12], [5, 4], [4, 7], [13, 9], [1, 6], [6, 1], [1, 1], [32, 32]];
  test.each(shapes)('transpose of a [%i, %i] block between strided rows equals a JS transpose exactly', (rows, cols) => {
    const be = tf.backend();
    const k = simdKernels(be, TRANSPOSE_FUNCTIONS)!;
    const srcStride = cols + 3;
    const dstStride = rows + 5;
    const src = seeded([rows * srcStride], 7);
    const dst = tf.fill([cols * dstStride], -9);
    k.transpose(heapAddress(be, src), heapAddress(be, dst), rows, cols, srcStride * 4, dstStride * 4);
    const s = src.dataSync();
    const expected = new Float32Array(cols * dstStride).fill(-9);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[c * dstStride + r] = s[r * srcStride + c];
    expect(Array.from(dst.dataSync())).toEqual(Array.from(expected));
    tf.dispose([src, dst]);
  });

  test.each([
    ['runs of 9 (two vectors + a tail), forward strides', 5, 9, 11, 13],
    ['runs of 3 (tail only), negative source stride', 4, 3, -7, 3],
    ['runs of 16, equal strides', 3, 16, 16, 16],
  ] as const)('copyRuns: %s, bit-exact', (_, count, run, srcStride, dstStride) => {
    const be = tf.backend();
    const k = simdKernels(be, TRANSPOSE_FUNCTIONS)!;
    const src = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i * 7 - 100), 'int32');
    const dst = tf.fill([80], -1, 'int32');
    const s0 = srcStride < 0 ? 40 : 2;
    k.copyRuns(heapAddress(be, src) + s0 * 4, heapAddress(be, dst) + 4, count, run, srcStride * 4, dstStride * 4);
    const sv = src.dataSync();
    const expected = new Int32Array(80).fill(-1);
    for (let i = 0; i < count; i++) for (let j = 0; j < run; j++) expected[1 + i * dstStride + j] = sv[s0 + i * srcStride + j];
    expect(Array.from(dst.dataSync())).toEqual(Array.from(expected));
    tf.dispose([src, dst]);
  });

  // The filter gradient's shifted rows: our SIMD transposes write what pad + transpose + copies do.
  const grids: [string, Grid][] = [
    ['3x3 same', { n: 2, h: 5, w: 6, ci: 4, gridH: 7, gridW: 8, top: 1, left: 1, kh: 3, kw: 3 }],
    ['3x3 valid (writes before a row start)', { n: 2, h: 5, w: 6, ci: 3, gridH: 5, gridW: 6, top: 0, left: 0, kh: 3, kw: 3 }],
    ['5x2 explicit', { n: 1, h: 4, w: 7, ci: 6, gridH: 8, gridW: 9, top: 2, left: 0, kh: 5, kw: 2 }],
    ['1x4', { n: 3, h: 3, w: 5, ci: 5, gridH: 3, gridW: 8, top: 0, left: 2, kh: 1, kw: 4 }],
  ];
  test.each(grids)('shifted rows (%s): SIMD = pad + transpose + copies, exactly', (_, g) => {
    const be = tf.backend();
    const x = seeded([g.n, g.h, g.w, g.ci], 5);
    const ids = be.numDataIds();
    const r = new KernelRunner(be, 'wasm');
    const heap = be as unknown as WasmHeap;
    const ours = Float32Array.from(heap.typedArrayFromHeap(shiftedRowsSimd(r, heap, x, g)!));
    const copies = Float32Array.from(heap.typedArrayFromHeap(shiftedRowsByCopies(r, heap, x, g)));
    r.dispose();
    expect(be.numDataIds()).toBe(ids);
    expect(ours.length).toBe(copies.length);
    expect(Array.from(ours)).toEqual(Array.from(copies));
    x.dispose();
  });
});
