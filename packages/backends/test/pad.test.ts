import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { mergePadDims } from '../src/kernels/pad';
import { seeded } from './helpers';

// Our PadV2 is registered for webgl and webgpu (their rank > 4 shaders are broken; the browser
// suite and the Dawn test show it). Here its dimension merging is checked on cpu, forced.
afterAll(() => {
  unregisterTrainingKernels();
});

describe('PadV2 over merged dimensions', () => {
  test('mergePadDims folds unpadded dimensions into the padded one before them', () => {
    expect(mergePadDims([2, 4, 1, 4, 3], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 0]])).toEqual({ shape: [8, 12], paddings: [[0, 0], [0, 12]] });
    expect(mergePadDims([2, 3, 4, 5, 3], [[1, 0], [0, 0], [0, 1], [0, 0], [2, 1]])).toEqual({
      shape: [6, 20, 3],
      paddings: [[3, 0], [0, 5], [2, 1]],
    });
    expect(mergePadDims([3, 2], [[0, 0], [0, 0]])).toEqual({ shape: [6], paddings: [[0, 0]] });
  });

  test('matches the stock cpu pad on ranks 5 and 6, values and gradients, and leaks nothing', async () => {
    await tf.setBackend('cpu');
    const cases: [number[], [number, number][]][] = [
      [[2, 4, 1, 4, 3], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 0]]],
      [[2, 3, 4, 5, 3], [[1, 0], [0, 0], [0, 1], [0, 0], [2, 1]]],
      [[1, 2, 3, 2, 2, 2], [[0, 0], [1, 1], [0, 0], [0, 0], [0, 2], [0, 0]]],
      // Five padded dimensions cannot merge below rank 5: the stock kernel runs.
      [[2, 2, 2, 2, 2], [[1, 0], [0, 1], [1, 0], [0, 1], [1, 1]]],
    ];
    const run = (shape: number[], pads: [number, number][]) =>
      tf.tidy(() => {
        const x = seeded(shape, 3);
        const w = seeded(shape.map((s, i) => s + pads[i][0] + pads[i][1]), 4);
        const y = tf.pad(x, pads, 0.25);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.pad(v, pads, 0.25), w)))(x);
        return [Array.from(y.dataSync()), Array.from(g.dataSync())];
      });
    for (const [shape, pads] of cases) {
      const stock = run(shape, pads);
      registerTrainingKernels('cpu', { only: ['PadV2'], force: true });
      const before = tf.memory().numTensors;
      const ours = run(shape, pads);
      expect(tf.memory().numTensors).toBe(before);
      unregisterTrainingKernels('cpu');
      expect(ours).toEqual(stock);
    }
  });
});
