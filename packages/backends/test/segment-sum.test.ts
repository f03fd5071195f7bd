import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

describe('UnsortedSegmentSum', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  const cases: { x: number[]; ids: number[]; n: number }[] = [
    { x: [6, 3], ids: [0, 2, 2, 1, 0, 4], n: 5 },
    { x: [5], ids: [3, 3, 0, 1, 3], n: 4 },
    { x: [4, 2, 3], ids: [1, 1, 1, 1], n: 3 },
    { x: [3, 2], ids: [-1, 7, 1], n: 2 }, // out-of-range ids are dropped, as in TensorFlow
  ];

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('wasm matches stock cpu: %s', async (_, c) => {
    const f = () => tf.unsortedSegmentSum(seeded(c.x, 3), tf.tensor1d(c.ids, 'int32'), c.n);
    const [a] = await onBackend('wasm', f);
    const [e] = await onBackend('cpu', f);
    expect(relError(a, e)).toBeLessThan(1e-6);
  });

  test('ours on cpu matches stock cpu (which is pathologically slow)', async () => {
    const f = () => tf.unsortedSegmentSum(seeded([40, 3, 2], 5), tf.tensor1d(Array.from({ length: 40 }, (_, i) => (i * 7) % 9), 'int32'), 9);
    const [stock] = await onBackend('cpu', f);
    registerTrainingKernels('cpu');
    const [ours] = await onBackend('cpu', f);
    unregisterTrainingKernels('cpu');
    expect(relError(ours, stock)).toBeLessThan(1e-6);
  });

  test('int32 values stay int32', async () => {
    await tf.setBackend('wasm');
    const out = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([1, 0, 1], 'int32'), 2);
    expect(out.dtype).toBe('int32');
    expect(Array.from(out.dataSync())).toEqual([2, 4]);
    out.dispose();
  });

  test('the gradient of gather (an embedding) trains on wasm', async () => {
    const f = () => {
      const table = seeded([7, 4], 2);
      const idx = tf.tensor2d([[1, 3, 3], [0, 6, 1]], [2, 3], 'int32');
      return tf.grad((t: tf.Tensor) => tf.gather(t, idx).mul(seeded([2, 3, 4], 8)).sum())(table);
    };
    const [a] = await onBackend('wasm', f);
    const [e] = await onBackend('cpu', f);
    expect(relError(a, e)).toBeLessThan(1e-6);
  });

  test('no leaks', async () => {
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => tf.unsortedSegmentSum(seeded([6, 3], 1), tf.tensor1d([0, 1, 0, 1, 2, 2], 'int32'), 3));
  });
});
