import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { hash32 } from './rng';

/**
 * The per-call state a forward pass threads through its layers: the mode, and where dropout
 * masks come from. Every random mask of one pass draws the next seed of one sequence derived
 * from `dropoutSeed`, so two passes with the same seed and the same input shapes draw identical
 * masks (ECT's shared dropout between the online and the target pass).
 */
export class ForwardContext {
  readonly training: boolean;
  readonly dropoutSeed: number;
  private counter = 0;

  constructor(training: boolean, dropoutSeed?: number) {
    const check = validate('ForwardContext');
    if (dropoutSeed !== undefined) check.integer('dropoutSeed', dropoutSeed);
    this.training = training;
    // Without an explicit seed every training pass gets fresh masks.
    this.dropoutSeed = dropoutSeed ?? Math.floor(Math.random() * 2147483647);
  }

  /** The seed of the next random mask of this pass. */
  nextSeed(): number {
    return hash32(this.dropoutSeed, this.counter++);
  }
}

/**
 * EDM's dropout (zero with probability p, survivors scaled by 1/(1 − p)), active only in training
 * mode. The mask comes from the context's seed sequence; in eval mode this is the identity.
 */
export function dropout(x: tf.Tensor, p: number, ctx: ForwardContext): tf.Tensor {
  if (!ctx.training || p === 0) return x;
  return tf.dropout(x, p, undefined, ctx.nextSeed());
}

/**
 * Label dropout for classifier-free guidance: each sample's row of `labels` [B, L] is zeroed with
 * probability p in training mode (EDM's `label_dropout`).
 */
export function labelDropout(labels: tf.Tensor, p: number, ctx: ForwardContext): tf.Tensor {
  if (!ctx.training || p === 0) return labels;
  const keep = tf.randomUniform([labels.shape[0], 1], 0, 1, 'float32', ctx.nextSeed()).greaterEqual(p).toFloat();
  return labels.mul(keep);
}

/** Validates a dropout probability in [0, 1). */
export function checkProbability(where: string, name: string, p: number): number {
  return validate(where).finite(name, p, { min: 0, lt: 1 });
}
