import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';
import { KernelRunner } from '../src/kernel-runner';
import { batchedByGemm } from '../src/kernels/batch-gemm';

type Case = { a: number[]; b: number[]; tA: boolean; tB: boolean };

// Ranks 2-4; every transpose combination; batch 1, equal batches, a shared (broadcast) side;
// matrices below and above the loop threshold.
const CASES: Case[] = [
  { a: [5, 7], b: [7, 3], tA: false, tB: false },
  { a: [7, 5], b: [7, 3], tA: true, tB: false },
  { a: [5, 7], b: [3, 7], tA: false, tB: true },
  { a: [7, 5], b: [3, 7], tA: true, tB: true },
  { a: [4, 40, 36], b: [4, 36, 33], tA: false, tB: false },
  { a: [4, 36, 40], b: [4, 33, 36], tA: true, tB: true },
  { a: [3, 6, 5], b: [3, 5, 4], tA: false, tB: false },
  { a: [3, 40, 36], b: [1, 36, 33], tA: false, tB: false },
  { a: [1, 40, 36], b: [3, 33, 36], tA: false, tB: true },
  { a: [2, 2, 40, 36], b: [2, 2, 36, 40], tA: false, tB: false },
  { a: [2, 3, 36, 40], b: [2, 3, 36, 40], tA: true, tB: false },
  // Our SIMD GEMM (M % 4 = 0, N % 8 = 0): an odd batch, a contraction not a multiple of 4, the
  // transposed operands of attention's gradients.
  { a: [5, 64, 45], b: [5, 45, 72], tA: false, tB: false },
  { a: [3, 32, 64], b: [3, 64, 32], tA: true, tB: true },
];

const label = (c: Case) => `a=[${c.a}]${c.tA ? 'T' : ''} b=[${c.b}]${c.tB ? 'T' : ''}`;

describe('BatchMatMul (wasm fast path)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test.each(CASES.map((c) => [label(c), c] as const))('matches cpu: %s', async (_, c) => {
    const f = () => tf.matMul(seeded(c.a, 1), seeded(c.b, 2), c.tA, c.tB);
    const [a] = await onBackend('wasm', f);
    const [e] = await onBackend('cpu', f);
    expect(relError(a, e)).toBeLessThan(1e-5);
  });

  test('batchedByGemm is taken where its tiles fit, frees its intermediates, and declines other shapes', async () => {
    await tf.setBackend('wasm');
    const be = tf.backend();
    for (const [m, n, taken] of [[64, 72, true], [62, 72, false], [64, 70, false]] as const) {
      const a = seeded([3, m, 20], 1);
      const b = seeded([3, 20, n], 2);
      const ids = be.numDataIds();
      const r = new KernelRunner(be, 'wasm');
      const out = batchedByGemm(r, a, b);
      expect(out !== null).toBe(taken);
      if (out !== null) {
        r.keep(out);
        const expected = await onBackend('cpu', () => tf.matMul(seeded([3, m, 20], 1), seeded([3, 20, n], 2)));
        expect(relError(Float32Array.from(be.readSync(out.dataId) as Float32Array), expected[0])).toBeLessThan(1e-5);
        await tf.setBackend('wasm');
        be.disposeData(out.dataId);
      }
      r.dispose();
      expect(be.numDataIds()).toBe(ids);
      tf.dispose([a, b]);
    }
  });

  test('dense and attention gradients match cpu', async () => {
    const f = () => {
      const x = seeded([6, 20, 16], 3);
      const w = seeded([16, 24], 4);
      return tf.grads((xx: tf.Tensor, ww: tf.Tensor) => {
        const q = tf.matMul(xx, ww.expandDims(0).tile([6, 1, 1])); // [6, 20, 24]
        const att = tf.softmax(tf.matMul(q, q, false, true).div(5)); // [6, 20, 20]
        return tf.matMul(att, q).square().sum();
      })([x, w]);
    };
    const [gx, gw] = await onBackend('wasm', f);
    const [ex, ew] = await onBackend('cpu', f);
    expect(relError(gx, ex)).toBeLessThan(1e-4);
    expect(relError(gw, ew)).toBeLessThan(1e-4);
  });

  test('no leaks', async () => {
    await tf.setBackend('wasm');
    for (const c of [CASES[3], CASES[5], CASES[7], CASES[8]]) {
      expectNoBackendLeak(() => tf.matMul(seeded(c.a, 1), seeded(c.b, 2), c.tA, c.tB));
    }
  });
});
