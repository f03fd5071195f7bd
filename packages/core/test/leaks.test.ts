import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

/**
 * Every public function of core that returns tensors, exercised once with its outputs disposed:
 * tf.memory().numTensors must be unchanged. The export census below makes a new export fail this
 * file until it is classified (and, if it returns tensors, added here).
 */
// Inputs are registered so the harness disposes them after the outputs.
const inputs: tf.Tensor[] = [];
const input = <T extends tf.Tensor>(v: T): T => (inputs.push(v), v);
const x = () => input(tf.randomNormal([2, 3, 3, 1], 0, 1, 'float32', 1));
const t = () => input(tf.tensor1d([0.3, 0.7]));
const sig = () => input(tf.tensor1d([0.5, 2]));
const denoise: core.Denoiser = (v, s) => tf.tidy(() => tf.mul(v, typeof s === 'number' ? 0.5 : s.reshape([-1, 1, 1, 1]).mul(0).add(0.5)));

const tensorReturning: Record<string, () => unknown> = {
  perSample: () => [x(), t()].reduce((a, b) => core.perSample(b, a)),
  meanOverNonBatch: () => core.meanOverNonBatch(x()),
  sumOverNonBatch: () => core.sumOverNonBatch(x()),
  toPerSample: () => core.toPerSample(0.5, 4),
  recoverEstimates: () => core.recoverEstimates(core.linearTransport(), 'v', x(), x(), t()),
  mixAt: () => core.mixAt(core.trigFlowTransport(), x(), x(), t()),
  nativeTarget: () => core.nativeTarget(core.ucgmEdmTransport(), x(), x(), t()),
  createPredictor: () => core.createPredictor({ network: (v) => v.mul(2), transport: core.linearTransport() }).predict(x(), t()),
  precondition: () => core.precondition((u) => u.mul(3), core.edmPreconditioning())(x(), sig()),
  odeDerivative: () => core.odeDerivative(denoise, x(), 1),
  eulerStep: () => core.eulerStep(denoise, x(), sig(), 0.1),
  heunStep: () => core.heunStep(denoise, x(), sig(), input(tf.tensor1d([0.1, 0]))),
  transportStep: () => core.transportStep(core.linearTransport(), x(), x(), 0.2),
  ectTToR: () => core.ectTToR(sig(), 1),
  snrWeighting: () => core.snrWeighting('karras', sig()),
  stopGradient: () => core.stopGradient(x()),
  seededNoise: () => {
    const n = core.seededNoise(1);
    return [n.normal([2]), n.uniform([2]), n.randint([2], 0, 3), n.beta([2], 1, 2), n.categorical([1, 2], 3)];
  },
  perSampleNoise: () => core.perSampleNoise([1, 2]).normal([2, 3]),
  replayNoise: () => core.replayNoise([{ data: [1, 2] }]).normal([2]),
  noiseFromState: () => core.noiseFromState({ kind: 'seeded', seed: 1, counter: 2 }).normal([3]),
  logNormalTimes: () => core.logNormalTimes().sample(core.seededNoise(0), 3),
  betaTimes: () => core.betaTimes({ a: 2, b: 2 }).sample(core.seededNoise(0), 3),
  logitNormalTimes: () => core.logitNormalTimes().sample(core.seededNoise(0), 3),
  uniformTimeDistribution: () => core.uniformTimeDistribution().sample(core.seededNoise(0), 3),
  clipByGlobalNorm: () => core.clipByGlobalNorm({ a: x() }, 0.1),
  // transports' and preconditioners' tensor evaluations
  linearTransport: () => core.linearTransport().coefficients(t()),
  reLinearTransport: () => core.reLinearTransport().coefficients(t()),
  trigFlowTransport: () => core.trigFlowTransport().dAlphaIn(t()),
  trigLinearTransport: () => core.trigLinearTransport().dGammaIn(t()),
  randomTransport: () => core.randomTransport().coefficients(t()),
  ucgmEdmTransport: () => core.ucgmEdmTransport().coefficients(t()),
  sigmaTransport: () => core.sigmaTransport().coefficients(sig()),
  vpTransport: () => core.vpTransport().coefficients(t()),
  transportByName: () => core.transportByName('trigflow').coefficients(t()),
  defineTransport: () => core.defineTransport({ name: 'l', alphaIn: (v) => v, gammaIn: (v, m) => m.sub(1, v), alphaTo: (v, m) => m.constant(v, 1), gammaTo: (v, m) => m.constant(v, -1) }).coefficients(t()),
  edmPreconditioning: () => core.edmPreconditioning().coefficients(sig()),
  vpPreconditioning: () => core.vpPreconditioning().coefficients(sig()),
  vePreconditioning: () => core.vePreconditioning().coefficients(sig()),
  consistencyPreconditioning: () => core.consistencyPreconditioning().coefficients(sig()),
  ectPreconditioning: () => core.ectPreconditioning({ mode: 'eval' }).coefficients(sig()),
};

/** Stateful tensor APIs (variables in, variables updated in place): no new tensors may remain. */
const inPlace: Record<string, () => void> = {
  updateEma: () => {
    const v = tf.tidy(() => tf.variable(tf.zeros([2])));
    core.updateEma([v], [v], 0.5);
    v.dispose();
  },
  ExponentialMovingAverage: () => {
    const v = tf.tidy(() => tf.variable(tf.ones([2])));
    const ema = new core.ExponentialMovingAverage([v], core.powerDecay(7));
    ema.update();
    ema.copyTo([v]);
    ema.dispose();
    v.dispose();
  },
  RAdam: () => {
    const v = tf.tidy(() => tf.variable(tf.ones([2])));
    const o = new core.RAdam();
    for (let i = 0; i < 7; i++) o.minimize(() => tf.sum(tf.square(v)) as tf.Scalar);
    o.dispose();
    v.dispose();
  },
  AdamW: () => {
    const v = tf.tidy(() => tf.variable(tf.ones([2])));
    const o = new core.AdamW();
    o.minimize(() => tf.sum(tf.square(v)) as tf.Scalar);
    o.dispose();
    v.dispose();
  },
};

/** Exports that return no tensors (numbers, arrays, functions of numbers, types' runtime helpers, errors). */
const noTensors = new Set([
  'FewstepError', 'Validator', 'validate', 'describe', 'isTensor', 'numberMath', 'tensorMath', 'PARAMETERISATIONS',
  'karrasSigmas', 'exponentialSigmas', 'uniformTimes', 'cmIndexSigma', 'rhoRoots', 'kumaraswamy', 'unifiedTimeGrid', 'explicitGrid',
  'cmCurriculum', 'ictNumScales', 'ictSigmas', 'ictIndexProbabilities', 'ictWeights', 'erf', 'ectRatio', 'ectStage',
  'roundHalfEven', 'fixedDecay', 'halfLifeDecay', 'powerDecay', 'constantLr', 'warmupLr', 'cosineLr', 'inverseSqrtLr',
  'mdmGammas', 'vdmLossWeights', 'shiftGamma', 'SNR_WEIGHTINGS', 'createRng', 'hash32',
  'GROUP_NORM_KERNEL', 'GROUP_NORM_GRAD_KERNEL',
  'fromLayersModel', // returns a Network; its leak check is in predictor.test.ts
  'readSafetensors', 'writeSafetensors', 'halfToFloat', 'floatToHalf', // host arrays, no tensors
  'MAX_LENGTH',
  'ASYNC_READ_BACKENDS', 'syncReadsAllowed', 'assertSyncRead', // the synchronous-read rule: no tensors
]);

describe('no public function of core leaks tensors', () => {
  it('every export is classified', () => {
    const unclassified = Object.keys(core).filter((k) => !(k in tensorReturning) && !(k in inPlace) && !noTensors.has(k));
    expect(unclassified).toEqual([]);
  });
  for (const [name, run] of Object.entries(tensorReturning)) {
    it(name, () =>
      expectNoLeak(run, (result) => {
        tf.dispose(result as tf.TensorContainer);
        tf.dispose(inputs.splice(0));
      }),
    );
  }
  for (const [name, run] of Object.entries(inPlace)) {
    it(name, () => expectNoLeak(run));
  }
});
