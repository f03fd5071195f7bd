import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { axisRuns } from '../src/kernels/heap-copy';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

/** Sum / mean over `axes` in float64, from the float32 inputs (the reference cpu cannot give). */
function reference(x: Float32Array, shape: number[], axes: number[], mean: boolean): Float64Array {
  const rank = shape.length;
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(keptShape.reduce((a, b) => a * b, 1));
  const idx = new Array(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let a = 0; a < rank; a++) o = o * keptShape[a] + (axes.includes(a) ? 0 : idx[a]);
    out[o] += x[i];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  const count = axes.reduce((a, ax) => a * shape[ax], 1);
  return mean ? out.map((v) => v / count) : out;
}

describe('Sum and Mean (wasm, without the transpose)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test('axisRuns splits a reduction into kept / reduced runs (size-1 dimensions dropped)', () => {
    expect(axisRuns([16, 1024, 32, 2], [1, 3])).toEqual([
      { size: 16, marked: false },
      { size: 1024, marked: true },
      { size: 32, marked: false },
      { size: 2, marked: true },
    ]);
    expect(axisRuns([8, 4, 4, 64], [0, 1, 2])).toEqual([{ size: 128, marked: true }, { size: 64, marked: false }]);
    expect(axisRuns([3, 1, 5], [1])).toEqual([{ size: 15, marked: false }]);
  });

  // Middle axes (pooled), innermost runs (stock, in place), both, everything, leading axes,
  // size-1 axes, negative axes, keepDims; the big ones are the shapes of a UNet's GroupNorm
  // statistics and bias gradients.
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [16, 1024, 64], axis: 1, keepDims: false },
    { shape: [8, 16, 16, 64], axis: [0, 1, 2], keepDims: true },
    { shape: [8, 256, 16, 4], axis: [1, 3], keepDims: true },
    { shape: [4, 5, 6, 7], axis: [0, 2], keepDims: false },
    { shape: [4, 5, 6, 7], axis: [1, 2, 3], keepDims: false },
    { shape: [4, 5, 6, 7], axis: [0, 1, 2, 3], keepDims: true },
    { shape: [3, 1, 4], axis: 0, keepDims: false },
    { shape: [3, 1, 4], axis: 1, keepDims: true },
    { shape: [2, 3], axis: -2, keepDims: false },
    { shape: [7], axis: 0, keepDims: false },
    { shape: [32768, 3], axis: 0, keepDims: false },
  ];

  for (const op of ['sum', 'mean'] as const) {
    test.each(cases.map((c) => [JSON.stringify(c), c] as const))(`${op} matches a float64 reference to 1e-5, shape as cpu: %s`, async (_, c) => {
      await tf.setBackend('wasm');
      const x = seeded(c.shape, 3);
      const xv = Float32Array.from(x.dataSync());
      x.dispose();
      const f = () => tf[op](seeded(c.shape, 3), c.axis, c.keepDims);
      const shape = tf.tidy(f).shape;
      const [a] = await onBackend('wasm', f);
      await tf.setBackend('cpu');
      expect(shape).toEqual(tf.tidy(f).shape);
      const axes = (Array.isArray(c.axis) ? c.axis : [c.axis]).map((ax) => (ax < 0 ? ax + c.shape.length : ax));
      const ref = reference(xv, c.shape, axes, op === 'mean');
      expect(relError(a, Float32Array.from(ref))).toBeLessThan(1e-5);
    });
  }

  test('int32 sums stay exact (the stock kernel), gradients match cpu', async () => {
    await tf.setBackend('wasm');
    const i = tf.sum(tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 2147483000]]], [2, 2, 2], 'int32'), 1);
    expect(i.dtype).toBe('int32');
    expect(i.arraySync()).toEqual([[4, 6], [12, 2147483006]]);
    i.dispose();
    const g = () =>
      tf.grads((x: tf.Tensor) => tf.add(tf.sum(x, [0, 2]).square().sum(), tf.mean(x, 1).square().sum()))([seeded([4, 6, 5, 3], 2)]);
    const a = await onBackend('wasm', g);
    const e = await onBackend('cpu', g);
    expect(relError(a[0], e[0])).toBeLessThan(1e-5);
  });

  test('no leaks', async () => {
    await tf.setBackend('wasm');
    expectNoBackendLeak(() => tf.sum(seeded([4, 6, 5, 3], 1), [0, 2], true));
    expectNoBackendLeak(() => tf.mean(seeded([4, 6, 5, 3], 1), [1, 3]));
    expectNoBackendLeak(() => tf.sum(seeded([4, 6], 1), 1));
  });
});
