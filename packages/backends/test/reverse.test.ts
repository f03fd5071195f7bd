import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { axisRuns } from '../src/kernels/heap-copy';
import { expectNoBackendLeak, onBackend, seeded } from './helpers';

describe('Reverse (wasm, in place on the heap)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test('axisRuns merges adjacent axes of the same kind and drops size-1 axes', () => {
    expect(axisRuns([3, 3, 64, 64], [0, 1])).toEqual([{ size: 9, marked: true }, { size: 4096, marked: false }]);
    expect(axisRuns([2, 1, 5, 4], [1, 3])).toEqual([{ size: 10, marked: false }, { size: 4, marked: true }]);
  });

  // A conv filter's flip, innermost axes, every axis, axes apart, rank 5, size-1 axes, short and
  // long contiguous runs.
  const cases: { shape: number[]; dims: number | number[] }[] = [
    { shape: [3, 3, 64, 64], dims: [0, 1] },
    { shape: [3, 3, 5, 7], dims: [0, 1] },
    { shape: [4, 5, 6], dims: 2 },
    { shape: [4, 5, 6], dims: [0, 1, 2] },
    { shape: [4, 5, 6, 7], dims: [0, 2] },
    { shape: [2, 3, 1, 4, 40], dims: [1, 2, 4] },
    { shape: [2, 1, 3], dims: [1] },
    { shape: [7], dims: -1 },
    { shape: [8, 16, 16, 32], dims: [1, 2] },
  ];

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('float32 and int32 equal cpu exactly: %s', async (_, c) => {
    const f = () => tf.reverse(seeded(c.shape, 5), c.dims);
    const g = () => tf.reverse(tf.cast(seeded(c.shape, 6).mul(1000), 'int32'), c.dims);
    const [a, ai] = await onBackend('wasm', () => [f(), g()]);
    const [e, ei] = await onBackend('cpu', () => [f(), g()]);
    expect(Array.from(a)).toEqual(Array.from(e));
    expect(Array.from(ai)).toEqual(Array.from(ei));
  });

  test('bool, empty, the gradient; no leaks', async () => {
    await tf.setBackend('wasm');
    const b = tf.reverse(tf.tensor1d([true, false, false], 'bool'));
    expect(Array.from(b.dataSync())).toEqual([0, 0, 1]);
    expect(tf.reverse(tf.zeros([0, 3]), 1).shape).toEqual([0, 3]);
    b.dispose();
    const grad = () => tf.grad((x: tf.Tensor) => tf.reverse(x, [0, 2]).mul(seeded([3, 4, 5], 2)).sum())(seeded([3, 4, 5], 1));
    const [a] = await onBackend('wasm', grad);
    const [e] = await onBackend('cpu', grad);
    expect(Array.from(a)).toEqual(Array.from(e));
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => tf.reverse(seeded([3, 3, 4, 4], 1), [0, 1]));
  });
});
