import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { mergedPermutation } from '../src/kernels/transpose';
import { expectNoBackendLeak, onBackend, seeded } from './helpers';

describe('Transpose on wasm (batched matrix transposes by our SIMD kernel)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test('mergedPermutation drops size-1 axes and merges axes that stay neighbours', () => {
    expect(mergedPermutation([16, 256, 64], [0, 2, 1])).toEqual({ shape: [16, 256, 64], perm: [0, 2, 1] });
    expect(mergedPermutation([2, 3, 4, 5], [0, 1, 3, 2])).toEqual({ shape: [6, 4, 5], perm: [0, 2, 1] });
    expect(mergedPermutation([2, 3, 4, 5], [2, 3, 0, 1])).toEqual({ shape: [6, 20], perm: [1, 0] });
    expect(mergedPermutation([4, 1, 5], [2, 1, 0])).toEqual({ shape: [4, 5], perm: [1, 0] });
    expect(mergedPermutation([16, 256, 1, 64, 3], [4, 0, 2, 1, 3])).toEqual({ shape: [4096, 64, 3], perm: [2, 0, 1] });
  });

  // Batched matrices (SIMD), edges (sizes not multiples of 4), merged axes, size-1 axes, int32,
  // and permutations that are not batched matrices (stock).
  const cases: [number[], number[], tf.DataType][] = [
    [[16, 256, 64], [0, 2, 1], 'float32'],
    [[7, 5], [1, 0], 'float32'],
    [[3, 3, 6, 5], [0, 1, 3, 2], 'float32'],
    [[2, 3, 4, 5], [2, 3, 0, 1], 'float32'],
    [[4, 1, 9], [2, 1, 0], 'int32'],
    [[2, 13, 1, 6], [0, 3, 2, 1], 'int32'],
    [[16, 8, 1, 4, 3], [4, 0, 2, 1, 3], 'float32'],
    [[2, 3, 4], [1, 0, 2], 'float32'],
  ];
  test.each(cases.map(([s, p, d]) => [JSON.stringify(s), JSON.stringify(p), d, s, p] as const))('%s by %s (%s) equals cpu exactly', async (_s, _p, dtype, shape, perm) => {
    const f = () => tf.transpose(tf.cast(tf.mul(seeded(shape, 5), 100), dtype), perm);
    const [ours] = await onBackend('wasm', f);
    const [cpu] = await onBackend('cpu', f);
    expect(Array.from(ours)).toEqual(Array.from(cpu));
    await tf.setBackend('wasm');
    const x = seeded(shape, 5);
    expectNoBackendLeak(() => tf.transpose(x, perm));
    x.dispose();
  });
});
