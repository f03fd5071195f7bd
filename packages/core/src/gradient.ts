import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs has no stop-gradient op).
 *
 * Pitfalls worth knowing when writing a loss against tfjs:
 * - The cheapest stop-gradient is computing a target *outside* the closure given to
 *   `tf.variableGrads` / `optimizer.minimize` and passing it in as a constant; use this function
 *   when the target must be computed inside.
 * - Comparison ops (`tf.greater`, `tf.equal`, ...) have no gradient: inside a gradient closure
 *   they throw "gradient function not found" even on a branch that does not need a gradient.
 *   Build masks outside the closure, or wrap them in `stopGradient`.
 * - `tf.tidy` cannot wrap async functions.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  validate('stopGradient').tensor('x', x);
  const f = tf.customGrad(((input: tf.Tensor) => ({
    value: input.clone(),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as T;
}
