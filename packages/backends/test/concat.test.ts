import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, seeded } from './helpers';

describe('Concat on wasm (our SIMD run copy)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  // The last axis (a UNet's skip concat; runs not multiples of 4), middle and first axes,
  // negative axes, empty inputs, one input, rank 1, int32 and bool (stock).
  const cases: [string, number[][], number, tf.DataType][] = [
    ['skip concat', [[2, 4, 4, 8], [2, 4, 4, 4]], 3, 'float32'],
    ['odd channels', [[3, 5, 3], [3, 5, 2], [3, 5, 1]], -1, 'float32'],
    ['middle axis', [[2, 3, 5], [2, 1, 5], [2, 4, 5]], 1, 'int32'],
    ['first axis', [[2, 3], [4, 3]], 0, 'float32'],
    ['an empty input', [[2, 0, 3], [2, 2, 3]], 1, 'float32'],
    ['one input', [[3, 7]], 1, 'float32'],
    ['rank 1', [[5], [3], [9]], 0, 'int32'],
    ['bool (stock)', [[2, 3], [2, 2]], 1, 'bool'],
  ];
  test.each(cases)('%s equals cpu exactly, no leaks', async (_, shapes, axis, dtype) => {
    const make = () => shapes.map((s, i) => tf.cast(tf.mul(seeded(s, i + 1), 50), dtype));
    const f = () => tf.concat(make(), axis);
    const [ours] = await onBackend('wasm', f);
    const [cpu] = await onBackend('cpu', f);
    expect(Array.from(ours)).toEqual(Array.from(cpu));
    await tf.setBackend('wasm');
    const xs = make();
    expectNoBackendLeak(() => tf.concat(xs, axis));
    tf.dispose(xs);
  });

  test('gradients (split back) match cpu', async () => {
    const f = () => {
      const a = seeded([2, 3, 4, 6], 1);
      const b = seeded([2, 3, 4, 2], 2);
      const dy = seeded([2, 3, 4, 8], 3);
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.concat([x, y], 3), dy)))([a, b]);
    };
    const ours = await onBackend('wasm', f);
    const cpu = await onBackend('cpu', f);
    ours.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(cpu[i])));
  });
});
