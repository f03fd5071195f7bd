import * as tf from '@tensorflow/tfjs';
import { isTensor, validate } from '@fewstep/core';

/**
 * Runs `fn` so that nothing it computes is recorded on the gradient tape: the result is a
 * constant for `tf.variableGrads` / `optimizer.minimize`, however many trainable variables `fn`
 * reads. This is how every stop-gradient target in this package is built (PyTorch's
 * `torch.no_grad()` block).
 *
 * Why it works: tfjs does not record ops that run inside a kernel, and the forward function of
 * `tf.customGrad` runs as one. So comparison ops (which have no gradient) are also safe inside.
 */
export function withoutGradient<T extends tf.Tensor>(fn: () => T): T {
  validate('withoutGradient').fn('fn', fn);
  const anchor = tf.scalar(0);
  try {
    const run = tf.customGrad(((a: tf.Tensor) => {
      const value = fn();
      if (!isTensor(value)) validate('withoutGradient').fail('fn', 'a function returning a tensor', value);
      return { value, gradFunc: () => tf.zerosLike(a) };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return run(anchor) as T;
  } finally {
    anchor.dispose();
  }
}

/** Runs side effects (e.g. assigning EMA weights) outside the gradient tape; returns nothing. */
export function runWithoutGradient(fn: () => void): void {
  withoutGradient(() => {
    fn();
    return tf.scalar(0);
  }).dispose();
}
