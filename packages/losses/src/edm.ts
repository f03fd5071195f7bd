import * as tf from '@tensorflow/tfjs';
import { logNormalTimes, perSample, sumOverNonBatch, validate } from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss, type Reduction } from './contract';

export interface EdmLossOptions {
  /** Mean of ln(sigma). Default -1.2. */
  pMean?: number;
  /** Standard deviation of ln(sigma). Default 1.2. */
  pStd?: number;
  /** sigma_data of the weighting. Default 0.5. */
  sigmaData?: number;
  /** Reduction over the batch. Default 'mean' (EDM: sum over all elements / batch). */
  reduction?: Reduction;
}

/**
 * EDM's denoising loss (NVlabs/edm training/loss.py:EDMLoss): sigma = exp(pMean + pStd n),
 * per sample sum over C,H,W of lambda(sigma) (D(x + sigma eps, sigma) - x)^2 with
 * lambda = (sigma^2 + sd^2)/(sigma sd)^2. `ctx.network` is the denoiser D(x; sigma) (e.g. an
 * EDM-preconditioned raw network). Draws: n [B], then eps like x.
 */
export function edmLoss(opts: EdmLossOptions = {}): Loss {
  const check = validate('edmLoss');
  const pMean = check.finite('pMean', opts.pMean ?? -1.2);
  const pStd = check.finite('pStd', opts.pStd ?? 1.2, { gt: 0 });
  const sd = check.finite('sigmaData', opts.sigmaData ?? 0.5, { gt: 0 });
  const reduction = check.oneOf('reduction', opts.reduction ?? 'mean', ['mean', 'sum'] as const);
  const times = logNormalTimes({ pMean, pStd });
  return {
    name: 'edm',
    compute(ctx) {
      const { batch } = checkContext('edmLoss.compute', ctx);
      return tf.tidy(() => {
        const sigma = times.sample(ctx.noise, batch);
        const eps = ctx.noise.normal(ctx.x.shape);
        const xNoisy = tf.add(ctx.x, tf.mul(eps, perSample(sigma, ctx.x)));
        const denoised = ctx.network(xNoisy, sigma, forwardOptions(ctx));
        validate('edmLoss.compute').sameShape('ctx.x', ctx.x, 'network output', denoised);
        const weight = tf.div(tf.add(tf.square(sigma), sd * sd), tf.square(tf.mul(sigma, sd)));
        const perSampleLoss = tf.mul(weight, sumOverNonBatch(tf.squaredDifference(denoised, ctx.x))) as tf.Tensor1D;
        return { loss: reduceLoss(perSampleLoss, reduction), perSample: perSampleLoss, stats: { sigma, weight } };
      });
    },
  };
}
