// Writing a new loss against the public Loss contract of @fewstep/losses: the Min-SNR-gamma
// weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"),
// moved into EDM's sigma space. It is not in @fewstep/losses; this file is all it takes.
import * as tf from '@tensorflow/tfjs';
import { logNormalTimes, perSample, sumOverNonBatch, validate } from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss } from '@fewstep/losses';

export interface MinSnrLossOptions {
  /** Clamp of the signal-to-noise ratio (the paper's gamma; default 5). */
  gamma?: number;
  /** sigma_data: SNR(sigma) = sigma_data^2 / sigma^2 (default 0.5). */
  sigmaData?: number;
  /** Log-normal noise levels, ln sigma ~ N(pMean, pStd^2) (EDM's defaults -1.2, 1.2). */
  pMean?: number;
  pStd?: number;
}

/**
 * x0-prediction loss with weight min(SNR(sigma), gamma) / sigma_data^2 per sample, where `ctx.network`
 * is a denoiser D(x; sigma) (an EDM-preconditioned network). High-noise samples keep the plain
 * x0 weight; low-noise ones, whose x0 target is almost the input, are capped at gamma.
 * Draws, in order: n [B] (the noise levels), then eps like x: the same order as edmLoss, so the
 * two losses see identical noise from equal sources.
 */
export function minSnrLoss(opts: MinSnrLossOptions = {}): Loss {
  const check = validate('minSnrLoss');
  const gamma = check.finite('gamma', opts.gamma ?? 5, { gt: 0 });
  const sd = check.finite('sigmaData', opts.sigmaData ?? 0.5, { gt: 0 });
  const times = logNormalTimes({ pMean: opts.pMean ?? -1.2, pStd: opts.pStd ?? 1.2 });
  return {
    name: 'min-snr',
    compute(ctx) {
      const { batch } = checkContext('minSnrLoss.compute', ctx);
      return tf.tidy(() => {
        const sigma = times.sample(ctx.noise, batch);
        const eps = ctx.noise.normal(ctx.x.shape);
        const xNoisy = tf.add(ctx.x, tf.mul(eps, perSample(sigma, ctx.x)));
        const denoised = ctx.network(xNoisy, sigma, forwardOptions(ctx));
        validate('minSnrLoss.compute').sameShape('ctx.x', ctx.x, 'network output', denoised);
        const snr = tf.div(sd * sd, tf.square(sigma));
        const weight = tf.div(tf.minimum(snr, gamma), sd * sd) as tf.Tensor1D;
        const perSampleLoss = tf.mul(weight, sumOverNonBatch(tf.squaredDifference(denoised, ctx.x))) as tf.Tensor1D;
        return { loss: reduceLoss(perSampleLoss, 'mean'), perSample: perSampleLoss, stats: { sigma, weight } };
      });
    },
  };
}
