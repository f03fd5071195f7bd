import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { backendDataIds, onBackend, relError, seeded } from './helpers';

describe('Identity and same-dtype Cast on wasm share data by reference', () => {
  beforeAll(async () => {
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test('a clone shares the data, outlives its source, and frees it last', () => {
    const ids = backendDataIds();
    const x = seeded([3, 4], 1);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    expect(backendDataIds()).toBe(ids + 1); // one buffer, three tensors
    const want = Array.from(x.dataSync());
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(want);
    y.dispose();
    expect(Array.from(z.dataSync())).toEqual(want);
    z.dispose();
    expect(backendDataIds()).toBe(ids);
  });

  test('real casts still convert, and to bool means != 0 (stock wasm wrapped -2 to 254)', async () => {
    const f = () => {
      const x = tf.tensor([1.7, -2.2, 0, 0.5, -0.25]);
      const i = tf.cast(x, 'int32');
      return [i, tf.cast(i, 'bool'), tf.cast(x, 'bool'), tf.cast(tf.cast(x, 'bool'), 'float32')];
    };
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const out = tf.tidy(f);
      const values = out.map((t) => [t.dtype, Array.from(t.dataSync())]);
      tf.dispose(out);
      return values;
    };
    const ours = await run('wasm');
    expect(ours).toEqual(await run('cpu'));
    expect(ours[1]).toEqual(['bool', [1, 1, 0, 0, 0]]);
    await tf.setBackend('wasm');
  });

  test('gradients through saved tensors match cpu, no leaks', async () => {
    const f = () => {
      const x = seeded([2, 5, 3], 2);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.square(a), tf.sigmoid(b))))([x, x.mul(0.5)]);
    };
    const before = tf.memory().numTensors;
    const ours = await onBackend('wasm', f);
    expect(tf.memory().numTensors).toBe(before);
    const cpu = await onBackend('cpu', f);
    ours.forEach((v, i) => expect(relError(v, cpu[i])).toBeLessThan(1e-6));
  });
});
