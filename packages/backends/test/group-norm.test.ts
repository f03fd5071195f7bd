import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL } from '@fewstep/core';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

interface Case {
  shape: number[];
  groups: number;
  silu: boolean;
}

/** GroupNorm (+ SiLU) in float64 from the float32 inputs: the reference for the forward pass. */
function reference(x: Float32Array, w: Float32Array, b: Float32Array, c: Case, eps: number): Float64Array {
  const C = c.shape[c.shape.length - 1];
  const B = c.shape[0];
  const P = x.length / (B * C);
  const per = C / c.groups;
  const y = new Float64Array(x.length);
  for (let s = 0; s < B; s++) {
    for (let g = 0; g < c.groups; g++) {
      const at = (p: number, k: number) => s * P * C + p * C + g * per + k;
      let sum = 0;
      for (let p = 0; p < P; p++) for (let k = 0; k < per; k++) sum += x[at(p, k)];
      const mean = sum / (P * per);
      let sq = 0;
      for (let p = 0; p < P; p++) for (let k = 0; k < per; k++) sq += (x[at(p, k)] - mean) ** 2;
      const rstd = 1 / Math.sqrt(sq / (P * per) + eps);
      for (let p = 0; p < P; p++) {
        for (let k = 0; k < per; k++) {
          const z = (x[at(p, k)] - mean) * rstd * w[g * per + k] + b[g * per + k];
          y[at(p, k)] = c.silu ? z / (1 + Math.exp(-z)) : z;
        }
      }
    }
  }
  return y;
}

/** The composite of stock ops (as nn's fallback): its autodiff gradients are the reference. */
function composite(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, c: Case, eps: number): tf.Tensor {
  const C = c.shape[c.shape.length - 1];
  const xg = x.reshape([c.shape[0], -1, c.groups, C / c.groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const z = tf.add(tf.mul(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))).reshape(c.shape), w), b);
  return c.silu ? tf.mul(z, tf.sigmoid(z)) : z;
}

function fused(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, c: Case, eps: number): tf.Tensor {
  return tf.engine().runKernel(GROUP_NORM_KERNEL, { x, weight: w, bias: b }, { groups: c.groups, eps, silu: c.silu }) as tf.Tensor;
}

function fusedGrad(dy: tf.Tensor, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, c: Case, eps: number): tf.Tensor[] {
  const attrs = { groups: c.groups, eps, silu: c.silu };
  return tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x, weight: w, bias: b }, attrs) as tf.Tensor[];
}

const inputs = (c: Case) => {
  const C = c.shape[c.shape.length - 1];
  // An offset and scale per sample make the statistics non-trivial (mean far from 0, std != 1).
  const x = tf.add(tf.mul(seeded(c.shape, 1), 3), 0.5);
  return { x, w: tf.add(seeded([C], 2), 1), b: seeded([C], 3), dy: seeded(c.shape, 4) };
};

describe('fused GroupNorm (+ SiLU) on wasm (our SIMD passes)', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  // UNet shapes (C a multiple of 4, groups of 4-16 channels), C % 4 != 0 (the one-lane tail),
  // one channel per group, one group, rank 2 and 3, batch 1 and > 1, odd positions.
  const cases: Case[] = [
    { shape: [2, 8, 8, 64], groups: 16, silu: true },
    { shape: [2, 8, 8, 64], groups: 16, silu: false },
    { shape: [1, 5, 7, 6], groups: 2, silu: true },
    { shape: [3, 3, 3, 10], groups: 10, silu: false },
    { shape: [3, 3, 3, 13], groups: 1, silu: true },
    { shape: [4, 12], groups: 3, silu: true },
    { shape: [2, 9, 20], groups: 5, silu: false },
    { shape: [1, 16, 16, 32], groups: 8, silu: true },
  ];
  const eps = 1e-5;

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('forward matches a float64 reference to 1e-5: %s', async (_, c) => {
    const [y] = await onBackend('wasm', () => {
      const { x, w, b } = inputs(c);
      return fused(x, w, b, c, eps);
    });
    await tf.setBackend('cpu');
    const { x, w, b, dy } = inputs(c);
    const ref = reference(x.dataSync() as Float32Array, w.dataSync() as Float32Array, b.dataSync() as Float32Array, c, eps);
    tf.dispose([x, w, b, dy]);
    expect(relError(y, Float32Array.from(ref))).toBeLessThan(1e-5);
  });

  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('gradients match cpu autodiff of the composite to 1e-4: %s', async (_, c) => {
    const ours = await onBackend('wasm', () => {
      const { x, w, b, dy } = inputs(c);
      return fusedGrad(dy, x, w, b, c, eps);
    });
    const ref = await onBackend('cpu', () => {
      const { x, w, b, dy } = inputs(c);
      return tf.grads((xi, wi, bi) => composite(xi, wi, bi, c, eps))([x, w, b], dy);
    });
    for (let i = 0; i < 3; i++) expect(relError(ours[i], ref[i])).toBeLessThan(1e-4);
  });

  test('no leaks: forward and gradient kernels free their scratch', async () => {
    await tf.setBackend('wasm');
    const c = cases[2];
    const { x, w, b, dy } = inputs(c);
    expectNoBackendLeak(() => fused(x, w, b, c, eps));
    expectNoBackendLeak(() => fusedGrad(dy, x, w, b, c, eps));
    tf.dispose([x, w, b, dy]);
  });

  test('big activations: the heap may grow between outputs (views re-taken), results stay exact', async () => {
    const c: Case = { shape: [4, 32, 32, 64], groups: 32, silu: true };
    const ours = await onBackend('wasm', () => {
      const { x, w, b, dy } = inputs(c);
      return [fused(x, w, b, c, eps), ...fusedGrad(dy, x, w, b, c, eps)];
    });
    const ref = await onBackend('cpu', () => {
      const { x, w, b, dy } = inputs(c);
      return [composite(x, w, b, c, eps), ...tf.grads((xi, wi, bi) => composite(xi, wi, bi, c, eps))([x, w, b], dy)];
    });
    for (let i = 0; i < 4; i++) expect(relError(ours[i], ref[i])).toBeLessThan(1e-4);
  });

  test('bad input: a dtype or group count the kernel cannot take names what it expected', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([2, 4, 6], 'int32');
    const w = tf.ones([6]);
    const b = tf.zeros([6]);
    expect(() => tf.engine().runKernel(GROUP_NORM_KERNEL, { x, weight: w, bias: b }, { groups: 2, eps, silu: false })).toThrow(/float32 x \[B, \.\.\., C\]/);
    const xf = tf.zeros([2, 4, 6]);
    expect(() => tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xf, weight: w, bias: b }, { groups: 4, eps, silu: false })).toThrow(/divisible by groups/);
    tf.dispose([x, w, b, xf]);
  });
});
