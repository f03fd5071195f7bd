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
    expect(() => karrasSigmas(3, { sigmaMax: 0.196, rho: 0.002 })).toThrow(/stays finite and positive/); // 0.002^500 underflows to 0
    expect(karrasSigmas(3, { rho: 0.5 }).every(Number.isFinite)).toBe(true);
  });
});

describe('kumaraswamy', () => {
  it('validates t in [0, 1] and positive a, b, c (negative ones gave NaN / Infinity)', async () => {
    const { kumaraswamy } = await import('@fewstep/core');
    expect(() => kumaraswamy(-1, 1, 0.5, 1)).toThrow(/kumaraswamy: t must be a number >= 0 and <= 1, got -1/);
    expect(() => kumaraswamy(0.5, -5, 1, 1)).toThrow(/kumaraswamy: a must be a number > 0, got -5/);
    expect(() => kumaraswamy(0.5, 1, 0, 1)).toThrow(/b must be a number > 0/);
    expect(kumaraswamy(0.5, 1, 1, 1)).toBe(0.5);
  });
});

describe('non-tensor network outputs and non-float EMA targets', () => {
  it('Validator.sameShape names a non-tensor argument (was: TypeError reading join)', async () => {
    const { validate, createPredictor, linearTransport } = await import('@fewstep/core');
    const x = tf.zeros([1, 2]);
    expect(() => validate('f').sameShape('x', x, 'network output', 1 as never)).toThrow(/f: network output must be a tensor, got 1/);
    const p = createPredictor({ network: (() => 1) as never, transport: linearTransport() });
    expect(() => p.predict(x, 0.5)).toThrow(/network output must be a tensor/);
    x.dispose();
  });

  it('updateEma rejects int32 / bool targets (was: raw tfjs assign dtype error)', async () => {
    const { updateEma } = await import('@fewstep/core');
    const v = tf.variable(tf.tensor([1, 2], [2], 'int32'));
    const s = tf.tensor([1, 2]);
    expect(() => updateEma([v], [s], 0.5)).toThrow(/updateEma: targets\[0\] must be a float32 tensor/);
    tf.dispose([v, s]);
  });
});

describe('Predictor.predict', () => {
  it('rejects a non-float t tensor (a bool t gave silent Infinity at the transport ends)', async () => {
    const { createPredictor, reLinearTransport } = await import('@fewstep/core');
    const p = createPredictor({ network: (x) => tf.mul(x, 0.5), transport: reLinearTransport(), parameterisation: 'x0' });
    const x = tf.ones([3, 2]);
    const t = tf.tensor([true, false, true], [3], 'bool');
    expect(() => p.predict(x, t)).toThrow(/Predictor.predict: t must be a float32 tensor, got a bool tensor/);
    tf.dispose([x, t]);
  });
});

describe('eulerStep / heunStep', () => {
  it('reject non-float sigma tensors (an int32 -0.5 became 0 and gave Infinity)', async () => {
    const { eulerStep, heunStep } = await import('@fewstep/core');
    const x = tf.ones([1, 2]);
    const s = tf.tensor([0], [1], 'int32');
    const n = tf.tensor([1]);
    expect(() => eulerStep((v) => tf.mul(v, 0.5), x, s, n)).toThrow(/eulerStep: sigma must be a float32 tensor, got a int32 tensor/);
    expect(() => heunStep((v) => tf.mul(v, 0.5), x, n, s)).toThrow(/sigmaNext must be a float32 tensor/);
    tf.dispose([x, s, n]);
  });
});
