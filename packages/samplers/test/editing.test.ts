import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { FewstepError, seededNoise } from '@fewstep/core';
import {
  colorizationReplacement,
  colorize,
  inpaint,
  interpolate,
  interpolationWeights,
  slerp,
  superResolutionReplacement,
  superResolve,
} from '@fewstep/samplers';
import { gaussConsistency } from './helpers';

beforeAll(useTestBackend);

const f = gaussConsistency(0.1, 0.5, 0.002);
const ts = [0, 8, 17];

describe('zero-shot editing beyond the reference', () => {
  it('super-resolution with any patch size and channel count keeps the reference block means', () => {
    const before = tf.memory().numTensors;
    for (const [patch, C] of [
      [2, 1],
      [3, 5],
      [4, 3],
    ]) {
      const images = tf.randomUniform([2, 2 * patch, 3 * patch, C], -1, 1, "float32", 1);
      const { x, imagesRef } = superResolve({ network: f, images, patchSize: patch, ts, steps: 18, noise: seededNoise(2) });
      const rep = superResolutionReplacement(patch);
      // Block means of the result equal the block means of the input (the known low-resolution image).
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(rep.reference(x), imagesRef))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
      // ... while the detail inside the blocks came from the model (not constant).
      const detail = tf.tidy(() => tf.max(tf.abs(tf.sub(x, imagesRef))).dataSync()[0]);
      expect(detail).toBeGreaterThan(1e-3);
      tf.dispose([images, x, imagesRef]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('inpainting keeps the known pixels exactly (mask broadcast over channels)', () => {
    const images = tf.randomUniform([3, 4, 4, 2], -1, 1, 'float32', 4);
    const mask = tf.tensor4d([1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1], [1, 4, 4, 1]);
    const { x, imagesRef } = inpaint({ network: f, images, mask, ts, steps: 18 });
    const known = tf.tidy(() => tf.max(tf.abs(tf.mul(tf.sub(x, images), mask))).dataSync()[0]);
    expect(known).toBe(0);
    const refUnknown = tf.tidy(() => tf.sum(tf.mul(tf.add(imagesRef, 1), tf.sub(1, mask))).dataSync()[0]);
    expect(refUnknown).toBe(0); // unknown pixels are -1 in images_ref
    tf.dispose([images, mask, x, imagesRef]);
  });

  it('colourisation keeps the luminance of the reference', () => {
    const images = tf.randomUniform([1, 4, 4, 3], -1, 1, 'float32', 5);
    const { x, imagesRef } = colorize({ network: f, images, ts, steps: 18 });
    const lum = (v: tf.Tensor) => tf.sum(tf.mul(v, [0.2989, 0.587, 0.114]), -1);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(lum(x), lum(images)))).dataSync()[0]);
    expect(d).toBeLessThan(1e-5);
    tf.dispose([images, x, imagesRef]);
  });

  it('bad input raises FewstepError: mask shape, channel count, patch size, start shape, ts order', () => {
    const before = tf.memory().numTensors;
    const images = tf.zeros([2, 4, 4, 3]);
    const badMask = tf.ones([2, 4, 3, 3]);
    expect(() => inpaint({ network: f, images, mask: badMask, ts, steps: 18 })).toThrow(/mask must be a tensor of shape \[2,4,4,3\]/);
    const gray = tf.zeros([1, 4, 4, 1]);
    expect(() => colorize({ network: f, images: gray, ts, steps: 18 })).toThrow(/3 channels/);
    expect(() => superResolve({ network: f, images, patchSize: 3, ts, steps: 18 })).toThrow(/multiples of patchSize 3/);
    expect(() => superResolutionReplacement(0)).toThrow(FewstepError);
    const x = tf.zeros([1, 4, 4, 3]);
    expect(() => colorize({ network: f, images, x, ts, steps: 18 })).toThrow(/x must have the shape of images/);
    expect(() => colorize({ network: f, images, ts: [0, 8, 8], steps: 18 })).toThrow(/ts\[2\] must be strictly increasing/);
    expect(() => colorize({ network: f, images, ts: [0, 18], steps: 18 })).toThrow(/ts\[1\]/);
    tf.dispose([images, badMask, gray, x]);
    expect(tf.memory().numTensors).toBe(before);
    expect(colorizationReplacement().name).toBe('colorization');
  });
});

describe('interpolation', () => {
  it('slerp hits both ends, keeps the norm of equal-norm latents, and handles theta = 0', () => {
    const z1 = tf.tensor1d([1, 0, 0]);
    const z2 = tf.tensor1d([0, 1, 0]);
    const zs = slerp(z1, z2, [0, 0.5, 1]);
    const v = zs.arraySync() as number[][];
    expect(v[0][0]).toBeCloseTo(1, 6);
    expect(v[2][1]).toBeCloseTo(1, 6);
    expect(Math.hypot(...v[1])).toBeCloseTo(1, 6);
    // Parallel latents: theta = 0 would divide by sin(0); the limit weights (1 - a, a) are used.
    const par = slerp(z1, tf.mul(z1, 2), [0.25]);
    expect(Array.from(par.dataSync())).toEqual([1.25, 0, 0]);
    expect(() => slerp(z1, tf.zeros([2]), [0])).toThrow(FewstepError);
    expect(interpolationWeights(5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    tf.dispose([z1, z2, zs, par]);
  });

  it('interpolate decodes every interpolant in one network call', () => {
    let calls = 0;
    const z1 = tf.randomNormal([4, 4, 3], 0, 1, 'float32', 1);
    const z2 = tf.randomNormal([4, 4, 3], 0, 1, 'float32', 2);
    const { latents, x } = interpolate({ z1, z2, alphas: interpolationWeights(7), network: (a, s, o) => (calls++, f(a, s, o)) });
    expect(calls).toBe(1);
    expect(x.shape).toEqual([7, 4, 4, 3]);
    tf.dispose([z1, z2, latents, x]);
  });
});

describe('slerp on the device', () => {
  /** The formula in float64 JS, as the synchronous implementation computed theta and the weights. */
  function reference(z1: number[], z2: number[], alphas: number[]): number[][] {
    const norm = (v: number[]) => Math.hypot(...v);
    const cos = Math.min(1, Math.max(-1, z1.reduce((s, v, i) => s + (v / norm(z1)) * (z2[i] / norm(z2)), 0)));
    const theta = Math.acos(cos);
    return alphas.map((a) => {
      const [w1, w2] = Math.sin(theta) === 0 ? [1 - a, a] : [Math.sin((1 - a) * theta) / Math.sin(theta), Math.sin(a * theta) / Math.sin(theta)];
      return z1.map((v, i) => w1 * v + w2 * z2[i]);
    });
  }

  it('matches the float64 formula and leaks nothing', () => {
    const z = seededNoise(3).normal([2, 2, 3, 2]);
    const [z1, z2] = tf.unstack(z);
    const alphas = [0, 0.1, 0.5, 0.9, 1, 1.5];
    const before = tf.memory().numTensors;
    const out = slerp(z1, z2, alphas);
    expect(tf.memory().numTensors).toBe(before + 1); // only the result
    expect(out.shape).toEqual([6, 2, 3, 2]);
    const want = reference(Array.from(z1.dataSync()), Array.from(z2.dataSync()), alphas).flat();
    const got = Array.from(out.dataSync());
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5 * (1 + Math.abs(want[i]))));
    // Anti-parallel-ish and nearly parallel latents stay finite and close to the formula.
    const near = tf.add(z1, tf.mul(z1, 1e-4));
    const nearOut = slerp(z1, near, [0.5]);
    const nearWant = reference(Array.from(z1.dataSync()), Array.from(near.dataSync()), [0.5])[0];
    Array.from(nearOut.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(nearWant[i], 4));
    tf.dispose([z, z1, z2, out, near, nearOut]);
  });

  it('a zero or non-finite latent is still rejected where synchronous reads are allowed', () => {
    const z = tf.tensor1d([1, 2]);
    expect(() => slerp(tf.zeros([2]), z, [0.5])).toThrow(/slerp: z1 must be a latent with a finite, non-zero norm, got "norm 0"/);
    expect(() => slerp(z, tf.tensor1d([NaN, 1]), [0.5])).toThrow(/z2 must be a latent with a finite, non-zero norm, got "norm NaN"/);
    z.dispose();
  });
});
