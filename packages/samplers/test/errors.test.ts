import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FewstepError } from '@fewstep/core';
import {
  churnStep,
  classifierFreeGuidance,
  clipDenoised,
  cmIndexGrid,
  cmMultistepSampler,
  cmSampler,
  consistencyStep,
  ectMultistepSampler,
  edit,
  edmSampler,
  interpolationWeights,
  kdiffusionSampler,
  mapDataEstimate,
  oneStepSampler,
  sampleSteps,
  slerp,
  ucgmStep,
} from '@fewstep/samplers';

/** Every public constructor rejects bad input with a FewstepError naming the argument. */
const cases: [string, () => unknown, RegExp][] = [
  ['ucgmStep stochasticity', () => ucgmStep({ stochasticity: -0.1 }), /stochasticity/],
  ['ucgmStep extrapolation', () => ucgmStep({ extrapolation: -1 }), /extrapolation/],
  ['ucgmStep order', () => ucgmStep({ order: 0 as never }), /order/],
  ['churnStep sNoise', () => churnStep('heun', { sNoise: -1 }), /sNoise/],
  ['churnStep sTMax < sTMin', () => churnStep('heun', { sTMin: 2, sTMax: 1 }), /sTMax/],
  ['consistencyStep renoise', () => consistencyStep('ddim' as never), /renoise/],
  ['consistencyStep sigmaMax', () => consistencyStep('cm', { sigmaMin: 1, sigmaMax: 0.5 }), /sigmaMax/],
  ['cmIndexGrid steps', () => cmIndexGrid([0, 1], 1), /steps/],
  ['cmIndexGrid ts not integer', () => cmIndexGrid([0, 1.5], 10), /ts\[1\]/],
  ['cmMultistepSampler one index', () => cmMultistepSampler({ ts: [0] }), /ts must be an array of at least 2/],
  ['cmSampler multistep without ts', () => cmSampler('multistep', { steps: 40 }), /ts must be/],
  ['cmSampler kind', () => cmSampler('lms' as never, { steps: 4 }), /kind/],
  ['ectMultistepSampler midT above tMax', () => ectMultistepSampler({ tMax: 1, midT: [2] }), /grid\[1\] must be strictly decreasing/],
  ['ectMultistepSampler midT negative', () => ectMultistepSampler({ midT: [-1] }), /midT\[0\]/],
  ['oneStepSampler sigmaMax', () => oneStepSampler({ sigmaMax: 0 }), /sigmaMax/],
  ['edmSampler solver', () => edmSampler({ solver: 'dpm' as never }), /solver/],
  ['edmSampler sigma range', () => edmSampler({ sigmaMin: 1, sigmaMax: 0.5 }), /sigmaMin/],
  ['kdiffusionSampler kind', () => kdiffusionSampler('lms' as never, { sigmas: [1, 0] }), /kind/],
  ['kdiffusionSampler negative sigma', () => kdiffusionSampler('euler', { sigmas: [1, -1] }), /sigmas\[1\]/],
  ['clipDenoised lo >= hi', () => clipDenoised(1, 1), /hi/],
  ['classifierFreeGuidance interval', () => classifierFreeGuidance({ scale: 2, nullClass: 0, interval: [1, 0] }), /interval/],
  ['classifierFreeGuidance nullClass', () => classifierFreeGuidance({ scale: 2, nullClass: -1 }), /nullClass/],
  ['mapDataEstimate fn', () => mapDataEstimate('x', 3 as never), /fn must be a function/],
  ['interpolationWeights n', () => interpolationWeights(1), /n must be an integer >= 2/],
  ['interpolationWeights huge n', () => interpolationWeights(2 ** 40), /n must be at most/],
  ['slerp int latents', () => slerp(tf.zeros([2], 'int32'), tf.ones([2], 'int32'), [0.5]), /z1 must be a float32 tensor/],
  ['slerp zero latent', () => slerp(tf.zeros([2]), tf.ones([2]), [0.5]), /z1 must be a latent with a finite, non-zero norm, got "norm 0"/],
  ['sampleSteps sampler', () => sampleSteps({} as never), /sampler must be a Sampler/],
  ['edit replacement', () => edit({ images: tf.zeros([1, 2, 2, 3]), replacement: undefined as never, ts: [0, 1] }), /replacement/],
  ['edit images rank', () => edit({ images: tf.zeros([2, 3]), replacement: undefined as never, ts: [0, 1] }), /images must be a tensor of rank 4/],
];

describe('error paths', () => {
  for (const [name, fn, message] of cases) {
    it(name, () => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FewstepError);
      expect((err as Error).message).toMatch(message);
    });
  }
});

describe('the per-step finite check on webgpu', () => {
  it('checkFinite: true is refused (it would read synchronously), naming the async route', async () => {
    const { asAsyncOnlyBackend } = await import('@fewstep/testing');
    const { ectMultistepSampler, sampleSteps } = await import('@fewstep/samplers');
    let calls = 0;
    const network = (x: tf.Tensor) => (calls++, x);
    await asAsyncOnlyBackend(() => {
      expect(() => sampleSteps(ectMultistepSampler(), { network, shape: [1, 2], checkFinite: true })).toThrow(
        /sampleSteps\(ect-multistep\): backend must allow synchronous reads .*use checkFinite: false, then check the sample with await data\(\) instead/,
      );
    });
    expect(calls).toBe(0);
  });
});
