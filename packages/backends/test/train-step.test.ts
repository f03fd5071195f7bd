import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { relError, seeded } from './helpers';
import { gradsOn, lossFn, makeParams } from './small-net';

afterAll(() => {
  unregisterTrainingKernels();
});

describe('a small conv net trains on wasm', () => {
  test('tf.variableGrads on wasm matches cpu for every parameter', async () => {
    registerTrainingKernels('wasm');
    // cpu as the reference with stock kernels, except its nearest-resize gradient (wrong for batch > 1).
    registerTrainingKernels('cpu', { only: ['ResizeNearestNeighborGrad'] });
    const wasm = await gradsOn('wasm');
    const cpu = await gradsOn('cpu');
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    for (const name of Object.keys(cpu.grads)) {
      expect(relError(wasm.grads[name], cpu.grads[name]), name).toBeLessThan(1e-4);
    }
  });

  test('SGD steps on wasm lower the loss and leak nothing', async () => {
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
    const p = makeParams();
    const x = seeded([3, 12, 12, 3], 21) as tf.Tensor4D;
    const y = seeded([3, 4], 22);
    const opt = tf.train.sgd(0.1);
    const losses: number[] = [];
    let before = 0;
    let ids = 0;
    for (let i = 0; i < 8; i++) {
      // Counted after the first step: the optimizer keeps its constants from then on.
      if (i === 1) [before, ids] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
      const l = opt.minimize(lossFn(p, x, y), true, Object.values(p)) as tf.Scalar;
      losses.push(l.dataSync()[0]);
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(ids);
    expect(losses[7]).toBeLessThan(losses[0] * 0.9);
    opt.dispose();
    tf.dispose([x, y, ...Object.values(p)]);
  });
});
