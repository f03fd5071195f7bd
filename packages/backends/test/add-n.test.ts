import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { ADD_N_CHUNK, registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

afterAll(() => {
  unregisterTrainingKernels();
});

// The chunked AddN is registered for webgpu (whose stock AddN breaks at >= 8 inputs); it only
// composes the stock AddN, so it is checked here by forcing it onto cpu and wasm.
describe('chunked AddN', () => {
  const inputs = (k: number) => Array.from({ length: k }, (_, i) => seeded([3, 5], i + 1));
  const reference = (k: number) => inputs(k).reduce((a, b) => a.add(b));

  test.each([1, 2, ADD_N_CHUNK, ADD_N_CHUNK + 1, 20, 50])('%i inputs on cpu and wasm', async (k) => {
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      registerTrainingKernels(backend, { only: ['AddN'], force: true });
      const [a] = await onBackend(backend, () => tf.addN(inputs(k)));
      unregisterTrainingKernels(backend);
      const [e] = await onBackend(backend, () => reference(k));
      expect(relError(a, e)).toBeLessThan(1e-6);
    }
  });

  test('no leaks', async () => {
    await tf.setBackend('wasm');
    registerTrainingKernels('wasm', { only: ['AddN'], force: true });
    expectNoBackendLeak(() => tf.addN(inputs(20)));
    unregisterTrainingKernels('wasm');
  });
});
