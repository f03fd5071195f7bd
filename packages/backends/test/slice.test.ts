import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { mergeSliceDims } from '../src/kernels/slice';
import { onBackend, seeded } from './helpers';

/** Runs `f` on `backend`: each output's dtype, shape and values; asserts no tensor leaked. */
async function dtypesShapesValues(backend: string, f: () => tf.Tensor[]) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  const values = out.map((t) => [t.dtype, t.shape, Array.from(t.dataSync())]);
  tf.dispose(out);
  expect(tf.memory().numTensors).toBe(before);
  return values;
}

describe('Slice on wasm: in place on the heap, over merged dimensions', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test('mergeSliceDims folds dimensions taken whole into the one before them', () => {
    expect(mergeSliceDims([16, 32, 16, 2, 64], [0, 0, 0, 0, 0], [16, 32, 16, 1, 64])).toEqual({ shape: [8192, 128], begin: [0, 0], size: [8192, 64] });
    expect(mergeSliceDims([2, 3, 4, 5, 6], [1, 0, 1, 0, 0], [1, 3, 2, 5, 6])).toEqual({ shape: [6, 120], begin: [3, 30], size: [3, 60] });
    expect(mergeSliceDims([2, 3], [0, 0], [2, 3])).toEqual({ shape: [6], begin: [0], size: [6] });
  });

  const cases: [number[], number[], number[]][] = [
    [[4, 3, 5, 2, 6], [0, 0, 0, 1, 0], [4, 3, 5, 1, 6]], // nn's zero-insertion pad gradient
    [[2, 3, 4, 5, 3], [1, 0, 2, 0, 1], [1, 3, 2, 5, 2]],
    [[2, 2, 3, 2, 2, 3], [0, 1, 0, 0, 1, 0], [2, 1, 3, 2, 1, 3]],
    [[3, 2, 2, 2, 2], [1, 1, 1, 1, 1], [2, 1, 1, 1, -1]], // nothing merges
    [[8, 6, 40], [3, 0, 0], [1, 6, 40]], // one matrix of a batch (BatchMatMul's loop): one run
    [[2, 9, 7, 33], [1, 1, 2, 0], [1, 7, 4, 33]], // long runs (set) between short strides
    [[3, 5, 6, 4], [0, 1, 1, 1], [3, 3, 4, 2]], // short runs (element loop)
    [[37], [5], [20]],
    [[4, 4], [0, 0], [4, 0]], // empty
  ];
  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('values and gradients match cpu, no leaks: %s', async (_, [shape, begin, size]) => {
    const f = () => {
      const x = seeded(shape, 5);
      const y = tf.slice(x, begin, size);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, begin, size), seeded(y.shape, 6))))(x);
      return [y, g];
    };
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const ours = await onBackend('wasm', f);
    expect(tf.memory().numTensors).toBe(before);
    const stock = await onBackend('cpu', f);
    expect(ours.map((a) => Array.from(a))).toEqual(stock.map((a) => Array.from(a)));
  });

  test('int32 and bool slices match cpu', async () => {
    const f = () => {
      const i = tf.range(0, 60, 1, 'int32').reshape([3, 4, 5]);
      const b = tf.tensor([1, 0, 0, 1, 1, 0], [2, 3], 'bool');
      return [tf.slice(i, [1, 1, 2], [2, 2, 3]), tf.slice(b, [0, 1], [2, 2])];
    };
    expect(await dtypesShapesValues('wasm', f)).toEqual(await dtypesShapesValues('cpu', f));
  });

  test.each([
    ['unstack axis 0', () => tf.unstack(seeded([3, 2, 5, 4], 1), 0)],
    ['unstack axis 2', () => tf.unstack(seeded([3, 2, 5, 4], 2), 2)],
    ['unstack last axis, rank 5', () => tf.unstack(seeded([2, 3, 1, 4, 3], 3), 4)],
    ['split in 3 along axis 3', () => tf.split(seeded([2, 3, 4, 6], 4), 3, 3)],
    ['split [1, 4, 2] along axis 1', () => tf.split(seeded([2, 7, 3], 5), [1, 4, 2], 1)],
    ['split int32 along axis 0', () => tf.split(tf.range(0, 24, 1, 'int32').reshape([4, 6]), 2, 0)],
  ] as [string, () => tf.Tensor[]][])('%s: Unpack / SplitV values, dtypes and shapes match cpu, no leaks', async (_, f) => {
    expect(await dtypesShapesValues('wasm', f)).toEqual(await dtypesShapesValues('cpu', f));
  });
});
