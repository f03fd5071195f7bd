import * as tf from '@tensorflow/tfjs';
import {
  linearTransport,
  mixAt,
  nativeTarget,
  uniformTimeDistribution,
  validate,
  type TimeDistribution,
  type Transport,
} from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss, type Reduction } from './contract';
import { l2Distance, type Distance } from './metrics';

export interface FlowMatchingOptions {
  /** The transport. Default: rectified flow (`linearTransport`, target F = z - x). */
  transport?: Transport;
  /** Training-time distribution. Default uniform on [0, 1). */
  times?: TimeDistribution;
  /** Distance between F and its target. Default mean squared error. */
  distance?: Distance;
  /** Per-sample weighting w(t) (tensor [B] -> [B]). Default 1. */
  weighting?: (t: tf.Tensor1D) => tf.Tensor1D;
  reduction?: Reduction;
}

/**
 * Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023) in any transport: the
 * network predicts the transport's native target F = alphaTo z + gammaTo x from
 * x_t = alphaIn z + gammaIn x. Draws: t [B], then z like x (UCGM-T's order).
 */
export function flowMatchingLoss(opts: FlowMatchingOptions = {}): Loss {
  const check = validate('flowMatchingLoss');
  const transport = opts.transport ?? linearTransport();
  if (typeof transport?.alphaIn !== 'function') check.fail('transport', 'a Transport', transport);
  const times = opts.times ?? uniformTimeDistribution();
  if (typeof times?.sample !== 'function') check.fail('times', 'a TimeDistribution', times);
  const distance = opts.distance ?? l2Distance();
  check.fn('distance', distance);
  if (opts.weighting !== undefined) check.fn('weighting', opts.weighting);
  const reduction = check.oneOf('reduction', opts.reduction ?? 'mean', ['mean', 'sum'] as const);
  return {
    name: 'flow-matching',
    compute(ctx) {
      const { batch } = checkContext('flowMatchingLoss.compute', ctx);
      return tf.tidy(() => {
        const t = times.sample(ctx.noise, batch);
        const z = ctx.noise.normal(ctx.x.shape);
        const xt = mixAt(transport, ctx.x, z, t);
        const target = nativeTarget(transport, ctx.x, z, t);
        const F = ctx.network(xt, t, forwardOptions(ctx));
        validate('flowMatchingLoss.compute').sameShape('ctx.x', ctx.x, 'network output', F);
        let perSampleLoss = distance(F, target);
        if (opts.weighting) perSampleLoss = tf.mul(perSampleLoss, opts.weighting(t)) as tf.Tensor1D;
        return { loss: reduceLoss(perSampleLoss, reduction), perSample: perSampleLoss, stats: { t } };
      });
    },
  };
}
