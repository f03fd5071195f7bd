import * as tf from '@tensorflow/tfjs';
import { ictIndexProbabilities, ictNumScales, ictSigmas, ictWeights, perSample, validate } from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss } from './contract';
import { withoutGradient } from './gradient';
import { pseudoHuberDistance } from './metrics';

export interface IctLossOptions {
  /** Initial / final number of discretisation intervals s0, s1 of N(k). Defaults 10, 1280. */
  s0?: number;
  s1?: number;
  /** Total training steps K of the curriculum. Default 400000. */
  totalSteps?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  /** Discrete log-normal index distribution. Defaults -1.1, 2.0. */
  pMean?: number;
  pStd?: number;
  /** Pseudo-Huber c. Default 0.00054 sqrt(d), d = number of elements per sample. */
  c?: number;
}

export interface IctLoss extends Loss {
  /** N(k) and the ascending grid used at step k. */
  discretisation(step: number): { numScales: number; sigmas: number[] };
}

/**
 * Improved consistency training (Song & Dhariwal 2023; no official code): N(k) exponential
 * curriculum, ascending Karras grid, discrete log-normal index sampling, teacher =
 * stopgrad(online), loss lambda(s_i) (sqrt(||f(x + s_{i+1} z, s_{i+1}) - f^-(x + s_i z, s_i)||^2 + c^2) - c),
 * lambda = 1/(s_{i+1} - s_i), mean over the batch. Draws: z like x, then B categorical indices.
 */
export function ictLoss(opts: IctLossOptions = {}): IctLoss {
  const check = validate('ictLoss');
  const cOpt = opts.c === undefined ? undefined : check.finite('c', opts.c, { min: 0 });
  const sched = { totalSteps: opts.totalSteps, s0: opts.s0, s1: opts.s1 };
  const grid = { sigmaMin: opts.sigmaMin, sigmaMax: opts.sigmaMax, rho: opts.rho };
  const lognormal = { pMean: opts.pMean, pStd: opts.pStd };
  ictNumScales(0, sched); // validates the curriculum options now
  const discretisation = (step: number) => {
    const numScales = ictNumScales(step, sched);
    return { numScales, sigmas: ictSigmas(numScales, grid) };
  };
  discretisation(0);
  ictIndexProbabilities([1, 2], lognormal);
  return {
    name: 'ict',
    discretisation,
    compute(ctx) {
      const { batch } = checkContext('ictLoss.compute', ctx);
      const { sigmas } = discretisation(ctx.step ?? 0);
      const probs = ictIndexProbabilities(sigmas, lognormal);
      const weights = ictWeights(sigmas);
      const d = ctx.x.size / batch;
      const c = cOpt ?? 0.00054 * Math.sqrt(d);
      const opts = forwardOptions(ctx);
      return tf.tidy(() => {
        const z = ctx.noise.normal(ctx.x.shape);
        const idx = ctx.noise.categorical(probs, batch);
        const sigmaLo = tf.gather(tf.tensor1d(sigmas.slice(0, -1)), idx) as tf.Tensor1D;
        const sigmaHi = tf.gather(tf.tensor1d(sigmas.slice(1)), idx) as tf.Tensor1D;
        const lambda = tf.gather(tf.tensor1d(weights), idx) as tf.Tensor1D;
        const at = (s: tf.Tensor1D) => tf.add(ctx.x, tf.mul(z, perSample(s, ctx.x)));
        const predicted = ctx.network(at(sigmaHi), sigmaHi, opts);
        validate('ictLoss.compute').sameShape('ctx.x', ctx.x, 'network output', predicted);
        const target = withoutGradient(() => ctx.network(at(sigmaLo), sigmaLo, opts));
        const perSampleLoss = tf.mul(pseudoHuberDistance({ c })(predicted, target), lambda) as tf.Tensor1D;
        return {
          loss: reduceLoss(perSampleLoss, 'mean'),
          perSample: perSampleLoss,
          stats: { indices: idx, sigma: sigmaHi, sigmaPrev: sigmaLo, weight: lambda, predicted, target, c } as unknown as tf.NamedTensorMap,
        };
      }) as unknown as ReturnType<Loss['compute']>;
    },
  };
}
