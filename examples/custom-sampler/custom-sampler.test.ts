import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FewstepError, seededNoise, sigmaTransport } from '@fewstep/core';
import { sampleToyArray } from '@fewstep/data';
import { mmdUnbiased } from '@fewstep/eval';
import { churnStep, defineSampler, edmSampler, sample } from '@fewstep/samplers';
import { useTestBackend } from '@fewstep/testing';
import { composedSamplers, eightGaussiansMeans, mixtureDenoiser, normThreshold } from './custom-sampler';

beforeAll(async () => {
  await useTestBackend();
});

const network = mixtureDenoiser(eightGaussiansMeans(), 0.1);
const run = (s: Parameters<typeof sample>[0], n = 200) => sample(s, { network, shape: [n, 2], noise: seededNoise(3) });

describe('custom sampler example', () => {
  it('the mixture denoiser is exact at the two ends: identity at sigma -> 0, the mean at sigma -> inf', () => {
    const x = tf.tensor2d([[2.05, 0.01], [0.3, -1.9]]);
    const near = network(x, tf.tensor1d([1e-4, 1e-4]));
    expect(Array.from(near.dataSync())).toEqual(Array.from(x.dataSync()).map((v) => expect.closeTo(v, 4)));
    const far = network(x, tf.tensor1d([1e4, 1e4]));
    for (const v of far.dataSync()) expect(Math.abs(v)).toBeLessThan(1e-3);
    tf.dispose([x, near, far]);
  });

  it('Heun on the Karras grid, composed by hand, reproduces edmSampler exactly', () => {
    const a = run(edmSampler({ steps: 5 }));
    const b = run(composedSamplers(5).heunKarras);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
  });

  it('the midpoint rule samples the mixture closely and is second order (beats Euler on the same grid)', () => {
    const data = { data: sampleToyArray('eightGaussians', 200, { seed: 1 }), dim: 2 };
    const mid = run(composedSamplers(8).midpointExp);
    expect(mmdUnbiased({ data: mid.dataSync(), dim: 2 }, data, { bandwidth: [0.05, 0.2, 0.8] })).toBeLessThan(0.08);
    // Order: on a smooth problem (wide components), against the ODE's solution from the same
    // latents (the midpoint rule on a fine grid), the midpoint error is far below Euler's.
    const smooth = mixtureDenoiser(eightGaussiansMeans(), 0.7);
    const solve = (s: Parameters<typeof sample>[0]) => sample(s, { network: smooth, shape: [200, 2], noise: seededNoise(3) });
    const exact = solve(composedSamplers(96).midpointExp);
    const coarse = solve(composedSamplers(12).midpointExp);
    const euler = solve(defineSampler({ name: 'euler-exp', transport: sigmaTransport(), grid: composedSamplers(12).midpointExp.grid, rule: churnStep('euler', { draws: 'none' }), parameterisation: 'x0' }));
    const error = (x: tf.Tensor) => tf.tidy(() => tf.mean(tf.norm(tf.sub(x, exact), 'euclidean', 1)).dataSync()[0]);
    expect(error(coarse)).toBeLessThan(0.5 * error(euler));
    tf.dispose([mid, exact, coarse, euler]);
  });

  it('the threshold modifier keeps every final sample inside its radius, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const x = run(composedSamplers(4).midpointExpThreshold);
    const v = x.dataSync();
    for (let i = 0; i < v.length; i += 2) expect(Math.hypot(v[i], v[i + 1])).toBeLessThanOrEqual(2.5 + 1e-5);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a bad radius is a FewstepError naming the argument', () => {
    expect(() => normThreshold(0)).toThrow(FewstepError);
    expect(() => normThreshold(Number.NaN)).toThrow(/radius/);
  });
});
