import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

afterAll(() => {
  unregisterTrainingKernels();
});

type PoolCase = { x: [number, number, number, number]; f: number; s: number; pad: 'same' | 'valid' };
const POOLS: PoolCase[] = [
  { x: [2, 8, 8, 3], f: 2, s: 2, pad: 'valid' },
  { x: [2, 7, 7, 3], f: 3, s: 2, pad: 'same' },
  { x: [1, 9, 9, 2], f: 3, s: 1, pad: 'same' },
  { x: [3, 6, 5, 4], f: 2, s: 1, pad: 'valid' },
  { x: [2, 12, 12, 8], f: 3, s: 2, pad: 'same' },
];

/** Quantised values make ties, the hard case for routing a max-pool gradient. */
function poolGrad(c: PoolCase): tf.Tensor {
  const x = seeded(c.x, 4).mul(4).round();
  const w = seeded(
    tf.maxPool(x as tf.Tensor4D, c.f, c.s, c.pad).shape,
    6,
  );
  return tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad).mul(w).sum())(x);
}

describe('MaxPoolGrad (wasm fix)', () => {
  test.each(POOLS.map((c) => [JSON.stringify(c), c] as const))('ours on wasm matches cpu: %s', async (_, c) => {
    registerTrainingKernels('wasm');
    const [a] = await onBackend('wasm', () => poolGrad(c));
    const [e] = await onBackend('cpu', () => poolGrad(c));
    expect(relError(a, e)).toBeLessThan(1e-6);
  });

  test('stock wasm MaxPoolGrad is wrong on at least one of these shapes', async () => {
    unregisterTrainingKernels('wasm');
    let worst = 0;
    for (const c of POOLS) {
      const [a] = await onBackend('wasm', () => poolGrad(c));
      const [e] = await onBackend('cpu', () => poolGrad(c));
      worst = Math.max(worst, relError(a, e));
    }
    expect(worst).toBeGreaterThan(1e-2);
  });

  test('no leaks', async () => {
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => poolGrad(POOLS[1]));
  });
});

type ResizeCase = { x: [number, number, number, number]; size: [number, number]; align: boolean; half: boolean };
const RESIZES: ResizeCase[] = [
  { x: [2, 4, 4, 3], size: [8, 8], align: false, half: false },
  { x: [3, 5, 3, 2], size: [10, 9], align: false, half: true },
  { x: [2, 4, 5, 1], size: [7, 9], align: true, half: false },
  { x: [2, 6, 6, 2], size: [3, 3], align: false, half: false },
  { x: [1, 4, 4, 2], size: [8, 8], align: false, half: false },
];

function resizeGrad(c: ResizeCase): tf.Tensor {
  const x = seeded(c.x, 2);
  const w = seeded([c.x[0], ...c.size, c.x[3]], 3);
  return tf.grad((a: tf.Tensor) =>
    tf.image.resizeNearestNeighbor(a as tf.Tensor4D, c.size, c.align, c.half).mul(w).sum(),
  )(x);
}

/** The exact adjoint, from the forward: d<resize(x), w>/dx = sum of w over the pixels each x feeds. */
function adjointReference(c: ResizeCase): tf.Tensor {
  return tf.tidy(() => {
    const [n, h, wd, ch] = c.x;
    const w = seeded([n, ...c.size, ch], 3).arraySync() as number[][][][];
    const ids = tf.range(0, h * wd).reshape([1, h, wd, 1]).tile([1, 1, 1, 1]).toFloat();
    const src = tf.image.resizeNearestNeighbor(ids as tf.Tensor4D, c.size, c.align, c.half).dataSync();
    const dx = new Float32Array(n * h * wd * ch);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < c.size[0]; i++)
        for (let j = 0; j < c.size[1]; j++)
          for (let k = 0; k < ch; k++) dx[(b * h * wd + src[i * c.size[1] + j]) * ch + k] += w[b][i][j][k];
    return tf.tensor(dx, c.x);
  });
}

describe('ResizeNearestNeighborGrad (cpu fix)', () => {
  test.each(RESIZES.map((c) => [JSON.stringify(c), c] as const))('ours on cpu is the exact adjoint: %s', async (c0, c) => {
    registerTrainingKernels('cpu');
    const [a] = await onBackend('cpu', () => resizeGrad(c));
    const [e] = await onBackend('cpu', () => adjointReference(c));
    expect(relError(a, e), c0).toBeLessThan(1e-6);
    unregisterTrainingKernels('wasm');
    const [stockWasm] = await onBackend('wasm', () => resizeGrad(c));
    expect(relError(stockWasm, e)).toBeLessThan(1e-6);
    registerTrainingKernels('wasm', { only: ['ResizeNearestNeighborGrad'] });
    const [oursWasm] = await onBackend('wasm', () => resizeGrad(c));
    unregisterTrainingKernels('wasm');
    expect(relError(oursWasm, e)).toBeLessThan(1e-6);
  });

  test('stock cpu is wrong for batch > 1', async () => {
    unregisterTrainingKernels('cpu');
    const c = RESIZES[0];
    const [a] = await onBackend('cpu', () => resizeGrad(c));
    const [e] = await onBackend('cpu', () => adjointReference(c));
    expect(relError(a, e)).toBeGreaterThan(1e-2);
  });

  test('no leaks', async () => {
    registerTrainingKernels('cpu');
    await tf.setBackend('cpu');
    expectNoBackendLeak(() => resizeGrad(RESIZES[1]));
  });
});
