// Validation gaps found by the fuzz suites (packages/train/test/fuzz): each used to escape as a
// raw TypeError / RangeError / tfjs error or as a silent NaN; now a FewstepError names the argument.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  FewstepError, MAX_LENGTH, clipByGlobalNorm, ictIndexProbabilities, ictWeights, karrasSigmas, logNormalTimes, mdmGammas,
  seededNoise, snrWeighting, toPerSample, transportByName, uniformTimes,
} from '@fewstep/core';

describe('validation gaps found by fuzzing', () => {
  it('transportByName rejects a non-string name (was: TypeError name.toLowerCase)', () => {
    expect(() => transportByName(undefined as never)).toThrow(/transportByName: name must be a transport name \(string\), got undefined/);
    expect(() => transportByName({} as never)).toThrow(FewstepError);
  });

  it('toPerSample validates the batch size (was: tfjs shape error / RangeError)', () => {
    expect(() => toPerSample(1, 1.5)).toThrow(/toPerSample: batch must be an integer >= 0, got 1.5/);
    expect(() => toPerSample(1, NaN)).toThrow(FewstepError);
    expect(() => toPerSample(1, 2 ** 40)).toThrow(/batch must be at most 16777216/);
  });

  it('lengths beyond 2^24 are a FewstepError, not an allocation RangeError', () => {
    expect(MAX_LENGTH).toBe(2 ** 24);
    expect(() => karrasSigmas(2 ** 40)).toThrow(/karrasSigmas: n must be at most 16777216/);
    expect(() => uniformTimes(2 ** 40)).toThrow(FewstepError);
    expect(() => mdmGammas('cosine', 2 ** 40)).toThrow(FewstepError);
    expect(() => logNormalTimes().sample(seededNoise(0), 2 ** 40)).toThrow(/batch must be at most/);
    expect(() => seededNoise(0).normal([2 ** 15, 2 ** 15])).toThrow(/shape must be a shape of at most 2\^28 elements/);
  });

  it('clipByGlobalNorm rejects empty and non-float32 gradients (was: raw tfjs addN/sqrt errors)', () => {
    expect(() => clipByGlobalNorm({}, 1)).toThrow(/clipByGlobalNorm: grads must be at least one gradient/);
    const g = tf.tensor([1, 2], [2], 'int32');
    expect(() => clipByGlobalNorm({ g }, 1)).toThrow(/grads.g must be a float32 tensor, got a int32 tensor/);
    g.dispose();
  });

  it('snrWeighting rejects non-float sigma (a bool 0 gave silent Infinity)', () => {
    const s = tf.tensor([true, false], [2], 'bool');
    expect(() => snrWeighting('karras', s)).toThrow(/snrWeighting: sigma must be a float32 tensor/);
    s.dispose();
  });

  it('ictIndexProbabilities with no log-normal mass on the grid throws (was: NaN probabilities)', () => {
    expect(() => ictIndexProbabilities([0.0019, 0.023], { pMean: 2, pStd: 0.5 })).toThrow(/sigmas must be a grid holding some log-normal mass/);
    expect(ictIndexProbabilities([0.002, 1, 80]).every(Number.isFinite)).toBe(true);
  });

  it('iCT grids must be strictly ascending (equal sigmas gave Infinity weights)', () => {
    expect(() => ictWeights([1, 1])).toThrow(/ictWeights: sigmas must be a strictly ascending grid/);
    expect(() => ictIndexProbabilities([2, 1])).toThrow(/strictly ascending/);
    expect(ictWeights([1, 2, 4])).toEqual([1, 0.5]);
  });
});

describe('rho schedules with a tiny rho', () => {
  it('throw instead of returning Infinity / NaN sigmas', async () => {
    const { cmIndexSigma, ictSigmas } = await import('@fewstep/core');
    expect(() => karrasSigmas(3, { rho: 0.002 })).toThrow(/karrasSigmas: rho must be large enough that sigma\^\(1\/rho\) stays finite/);
    expect(() => cmIndexSigma(0, 15, { rho: 0.002 })).toThrow(FewstepError);
    expect(() => ictSigmas(15, { sigmaMin: 2, rho: 0.002 })).toThrow(/ictSigmas: rho must be large enough/);
    expect(karrasSigmas(3, { rho: 0.5 }).every(Number.isFinite)).toBe(true);
  });
});
