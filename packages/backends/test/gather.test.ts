import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, seeded } from './helpers';

describe('GatherV2 (wasm, in place on the heap)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  // Rows of a dataset, a middle axis, the innermost axis, repeated and out-of-order indices,
  // 2-D indices, batchDims, long and short slices.
  const cases: { shape: number[]; indices: number[]; indicesShape?: number[]; axis: number; batchDims?: number }[] = [
    { shape: [100, 28, 28, 1], indices: [5, 99, 0, 5, 42], axis: 0 },
    { shape: [16, 32, 32, 64], indices: [31, 0, 7, 7], axis: 1 },
    { shape: [4, 5, 6], indices: [5, 0, 3], axis: 2 },
    { shape: [10, 3], indices: [1, 2, 3, 4, 9, 0], indicesShape: [2, 3], axis: 0 },
    { shape: [3, 7, 4], indices: [0, 6, 1, 2, 3, 3], indicesShape: [3, 2], axis: 1, batchDims: 1 },
  ];

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('float32 and int32 equal cpu exactly: %s', async (_, c) => {
    const idx = () => tf.tensor(c.indices, c.indicesShape ?? [c.indices.length], 'int32');
    const f = () => tf.gather(seeded(c.shape, 3), idx(), c.axis, c.batchDims ?? 0);
    const g = () => tf.gather(tf.cast(seeded(c.shape, 4).mul(1e4), 'int32'), idx(), c.axis, c.batchDims ?? 0);
    await tf.setBackend('wasm');
    const shape = tf.tidy(f).shape;
    const [a, ai] = await onBackend('wasm', () => [f(), g()]);
    await tf.setBackend('cpu');
    expect(shape).toEqual(tf.tidy(f).shape);
    const [e, ei] = await onBackend('cpu', () => [f(), g()]);
    expect(Array.from(a)).toEqual(Array.from(e));
    expect(Array.from(ai)).toEqual(Array.from(ei));
  });

  test('bool, out-of-range indices throw as stock does, the gradient; no leaks', async () => {
    await tf.setBackend('wasm');
    const b = tf.gather(tf.tensor1d([true, false, true], 'bool'), tf.tensor1d([2, 1], 'int32'));
    expect(Array.from(b.dataSync())).toEqual([1, 0]);
    b.dispose();
    expect(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32')))).toThrow(/GatherV2: the index value 3 is not in \[0, 2\]/);
    const grad = () => tf.grad((x: tf.Tensor) => tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1).mul(seeded([4, 3, 5], 2)).sum())(seeded([4, 3, 5], 1));
    const [a] = await onBackend('wasm', grad);
    const [e] = await onBackend('cpu', grad);
    expect(Array.from(a)).toEqual(Array.from(e));
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => tf.gather(seeded([6, 4], 1), tf.tensor1d([5, 1], 'int32')));
  });
});
