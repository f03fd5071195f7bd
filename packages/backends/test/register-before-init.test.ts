import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { onBackend, relError, seeded } from './helpers';

// This file runs in its own process: the wasm backend is not initialised before the test.
test('kernels registered before the wasm backend initialises work, and stock ones work after restoring', async () => {
  expect(tf.engine().registry.wasm).toBeUndefined();
  registerTrainingKernels('wasm');
  const pool = () =>
    tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').sum())(seeded([1, 4, 4, 2], 1));
  const mm = () => tf.matMul(seeded([4, 30, 40], 1), seeded([4, 50, 40], 2), false, true);
  const ours = await onBackend('wasm', () => [pool(), mm()]);
  unregisterTrainingKernels('wasm');
  const stock = await onBackend('wasm', () => [pool(), mm()]);
  const cpu = await onBackend('cpu', () => [pool(), mm()]);
  expect(relError(ours[0], cpu[0])).toBeLessThan(1e-6);
  expect(relError(ours[1], cpu[1])).toBeLessThan(1e-5);
  expect(relError(stock[1], cpu[1])).toBeLessThan(1e-5);
  expect(stock[0].length).toBe(cpu[0].length);
});
