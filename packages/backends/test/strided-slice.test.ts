import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, seeded } from './helpers';

describe('StridedSlice (wasm, in place on the heap)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  // Every other filter tap, negative strides, masks, a shrunk axis, a new axis, an ellipsis,
  // long contiguous runs and strided last axes.
  const cases: { shape: number[]; begin: number[]; end: number[]; strides: number[]; masks?: [number, number, number, number, number] }[] = [
    { shape: [3, 3, 64, 64], begin: [0, 1, 0, 0], end: [3, 3, 64, 64], strides: [2, 2, 1, 1] },
    { shape: [5, 6, 7], begin: [4, 5, 6], end: [0, 0, 0], strides: [-1, -2, -3] },
    { shape: [5, 6, 7], begin: [1, 0, 2], end: [4, 6, 7], strides: [2, 1, 2] },
    { shape: [5, 6, 40], begin: [0, 1, 0], end: [5, 6, 40], strides: [3, 2, 1], masks: [1, 4, 0, 0, 0] },
    { shape: [5, 6, 7], begin: [1, 0, 0], end: [2, 6, 7], strides: [1, 2, 3], masks: [0, 0, 0, 0, 1] },
    { shape: [5, 6, 7], begin: [0, 0, 1], end: [5, 6, 7], strides: [1, 1, 2], masks: [0, 0, 0, 2, 0] },
    { shape: [4, 5, 6, 7], begin: [1, 0], end: [4, 7], strides: [2, 3], masks: [0, 0, 1, 0, 0] },
  ];

  /**
   * The reference: per-axis gathers on cpu of the indices begin + i * stride (tfjs's own parse of
   * the masks), reshaped. Not cpu's StridedSlice: with a shrunk axis its general path indexes a
   * rank-2 buffer with rank-3 strides (x[1, 0:6:2, 0:7:3] of [5, 6, 7] came back as rows 1-3).
   */
  function reference(x: tf.Tensor, c: (typeof cases)[number]): tf.Tensor {
    const [bm, em, ell, na, sh] = c.masks ?? [0, 0, 0, 0, 0];
    const info = tf.slice_util.sliceInfo(x.shape, c.begin, c.end, c.strides, bm, em, ell, na, sh);
    const dense = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    let y = x;
    dense.forEach((n, axis) => {
      const idx = Array.from({ length: n }, (_, i) => info.begin[axis] + i * info.strides[axis]);
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), axis);
    });
    return y.reshape(info.finalShape);
  }

  // int32 with a shrunk axis: stock wasm returned float32 holding the int32 bits.
  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('float32 and int32 equal per-axis gathers on cpu exactly: %s', async (_, c) => {
    const [bm, em, ell, na, sh] = c.masks ?? [0, 0, 0, 0, 0];
    const xf = () => seeded(c.shape, 3);
    const xi = () => tf.cast(seeded(c.shape, 4).mul(1e4), 'int32');
    const slice = (x: tf.Tensor) => tf.stridedSlice(x, c.begin, c.end, c.strides, bm, em, ell, na, sh);
    await tf.setBackend('wasm');
    const [shape, dtype] = tf.tidy(() => {
      const y = slice(xi());
      return [y.shape, y.dtype];
    });
    expect(dtype).toBe('int32');
    const [a, ai] = await onBackend('wasm', () => [slice(xf()), slice(xi())]);
    const [e, ei] = await onBackend('cpu', () => [reference(xf(), c), reference(xi(), c)]);
    await tf.setBackend('cpu');
    expect(shape).toEqual(tf.tidy(() => reference(xf(), c)).shape);
    expect(Array.from(a)).toEqual(Array.from(e));
    expect(Array.from(ai)).toEqual(Array.from(ei));
  });

  test('bool, an empty result; no leaks (tfjs has no StridedSlice gradient)', async () => {
    await tf.setBackend('wasm');
    const b = tf.stridedSlice(tf.tensor1d([true, false, true, true], 'bool'), [0], [4], [2]);
    expect(Array.from(b.dataSync())).toEqual([1, 1]);
    b.dispose();
    expect(tf.tidy(() => tf.stridedSlice(tf.ones([4, 4]), [2, 0], [2, 4], [1, 2])).shape).toEqual([0, 2]);
    expectNoBackendLeak(() => tf.stridedSlice(seeded([3, 3, 4, 4], 1), [0, 0, 0, 0], [3, 3, 4, 4], [2, 2, 1, 1]));
  });
});
