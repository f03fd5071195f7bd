import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

describe('Tile (wasm, in place on the heap)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  const cases: { shape: number[]; reps: number[] }[] = [
    { shape: [5], reps: [3] },
    { shape: [2, 3], reps: [2, 1] },
    { shape: [2, 3], reps: [1, 1] },
    { shape: [2, 3, 4, 5], reps: [1, 2, 3, 1] },
    { shape: [2, 1, 3, 1, 2], reps: [2, 3, 1, 2, 1] },
    // bigger results: whole rows copied at once
    { shape: [16, 16, 4, 8], reps: [1, 1, 2, 2] },
    { shape: [64, 70], reps: [2, 1] },
    { shape: [3, 1, 5, 1, 9], reps: [2, 4, 1, 8, 1] },
  ];

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('float32 matches cpu: %s', async (_, c) => {
    const f = () => tf.tile(seeded(c.shape, 4), c.reps);
    const [a] = await onBackend('wasm', f);
    const [e] = await onBackend('cpu', f);
    expect(relError(a, e)).toBe(0);
  });

  test('int32 and bool, an empty result, and the gradient', async () => {
    await tf.setBackend('wasm');
    const i = tf.tile(tf.tensor2d([[1, 2]], [1, 2], 'int32'), [2, 2]);
    expect(i.dtype).toBe('int32');
    expect(i.arraySync()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    const b = tf.tile(tf.tensor1d([true, false], 'bool'), [2]);
    expect(Array.from(b.dataSync())).toEqual([1, 0, 1, 0]);
    const empty = tf.tile(tf.ones([2, 3]), [0, 1]);
    expect(empty.shape).toEqual([0, 3]);
    tf.dispose([i, b, empty]);
    const g = () => tf.grad((x: tf.Tensor) => tf.tile(x, [2, 3]).mul(seeded([4, 9], 2)).sum())(seeded([2, 3], 1));
    const [a] = await onBackend('wasm', g);
    const [e] = await onBackend('cpu', g);
    expect(relError(a, e)).toBeLessThan(1e-6);
  });

  test('no leaks', async () => {
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => tf.tile(seeded([2, 3, 4], 1), [2, 1, 3]));
    expectNoBackendLeak(() => tf.tile(seeded([2, 3], 1), [1, 1]));
  });
});
