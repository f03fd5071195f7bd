import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import {
  bilinearResize,
  withoutGradient,
  cosineDistance,
  l1Distance,
  l2Distance,
  pseudoHuberDistance,
  resizedL2Distance,
  resolveDistance,
  squaredL2SumDistance,
} from '@fewstep/losses';

beforeAll(async () => {
  await useTestBackend();
});

const a = () => tf.tensor4d([1, 2, 3, 4, 0, 0, 0, 0], [2, 2, 2, 1]);
const b = () => tf.tensor4d([1, 0, 3, 0, 1, 1, 1, 1], [2, 2, 2, 1]);
const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('distances (per sample)', () => {
  it('l2, l1, squared-sum, pseudo-Huber (sum and mean) by hand', () => {
    const [x, y] = [a(), b()];
    expect(values(l2Distance()(x, y))).toEqual([5, 1]); // (0 + 4 + 0 + 16)/4, 4/4
    expect(values(l1Distance()(x, y))).toEqual([1.5, 1]);
    expect(values(squaredL2SumDistance()(x, y))).toEqual([20, 4]);
    const ph = values(pseudoHuberDistance({ c: 0.5 })(x, y));
    expect(ph[0]).toBeCloseTo(Math.sqrt(20.25) - 0.5, 5);
    expect(ph[1]).toBeCloseTo(Math.sqrt(4.25) - 0.5, 5);
    const phm = values(pseudoHuberDistance({ c: 2, over: 'mean' })(x, y));
    expect(phm[0]).toBeCloseTo(Math.sqrt(9) - 2, 5);
    expect(values(pseudoHuberDistance({ c: 0 })(x, y))[1]).toBeCloseTo(2, 6); // c = 0: the plain norm
    tf.dispose([x, y]);
  });

  it('cosine distance over the channel axis, denominator clamped at 1e-8', () => {
    const x = tf.tensor3d([[[1, 0], [0, 1]]]); // [1, 2, 2]: two pixels, two channels
    const y = tf.tensor3d([[[1, 0], [0, -1]]]);
    expect(values(cosineDistance()(x, y))[0]).toBeCloseTo((0 + 2) / 2, 6);
    const zero = tf.zeros([1, 2, 2]);
    expect(values(cosineDistance()(zero, y))[0]).toBe(1); // 0/1e-8 = 0 -> 1 - 0
    tf.dispose([x, y, zero]);
  });

  it('bilinearResize equals tf.image.resizeBilinear(halfPixelCenters) forward, up and down', () => {
    for (const [h, w, size] of [[4, 4, 32], [5, 3, 8], [40, 36, 32]]) {
      const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', h);
      const ours = bilinearResize(x, size);
      const ref = tf.image.resizeBilinear(x as tf.Tensor4D, [size, size], false, true);
      expect(tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]).toBeLessThan(1e-5);
      tf.dispose([x, ours, ref]);
    }
  });

  it('bilinearResize has the exact gradient (tfjs ResizeBilinearGrad ignores halfPixelCenters)', () => {
    // d/dx sum(w * resize(x)) = R^T w: check against a finite difference of the forward.
    const x = tf.randomNormal([1, 3, 3, 1], 0, 1, 'float32', 1);
    const w = tf.randomNormal([1, 8, 8, 1], 0, 1, 'float32', 2);
    const f = (v: tf.Tensor) => tf.sum(tf.mul(bilinearResize(v, 8), w));
    const g = tf.grad(f)(x);
    const e = 1e-2;
    const fd = Array.from({ length: 9 }, (_, i) => {
      const d = tf.oneHot(i, 9).reshape([1, 3, 3, 1]).mul(e);
      return (f(tf.add(x, d)).dataSync()[0] - f(tf.sub(x, d)).dataSync()[0]) / (2 * e);
    });
    values(g).forEach((v, i) => expect(v).toBeCloseTo(fd[i], 2));
    tf.dispose([x, w, g]);
  });

  it('l2-32 resizes to 32x32; names resolve; bad input raises FewstepError; no leaks', async () => {
    const [x, y] = [a(), b()];
    const d = values(resizedL2Distance()(x, y));
    expect(d[1]).toBeCloseTo(1, 5); // constant difference 1 survives any resize
    expect(resolveDistance('t', 'l2-32')).toBeTypeOf('function');
    expect(() => resolveDistance('t', 'lpips' as never)).toThrow(FewstepError);
    expect(() => pseudoHuberDistance({ c: -1 })).toThrow(/c must be/);
    expect(() => l2Distance()(x, tf.zeros([2, 2, 2, 2]))).toThrow(FewstepError);
    expect(() => resizedL2Distance(0)).toThrow(FewstepError);
    expect(() => bilinearResize(x, 2 ** 40)).toThrow(/size must be at most/);
    expect(() => withoutGradient((() => 1) as never)).toThrow(/fn must be a function returning a tensor, got 1/);
    await expectNoLeak(() => [l2Distance()(x, y), resizedL2Distance()(x, y), cosineDistance()(x, y), pseudoHuberDistance({ c: 1 })(x, y)]);
    tf.dispose([x, y]);
  });
});
