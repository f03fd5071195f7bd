import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { runWithoutGradient } from './gradient';

/**
 * theta^- <- rate theta^- + (1 - rate) theta for matching lists of variables (OpenAI CM
 * `update_ema`; UCGM `update_ema`). Runs outside any gradient tape; leaks nothing.
 */
export function updateEma(target: readonly tf.Variable[], source: readonly tf.Tensor[], rate: number): void {
  const check = validate('updateEma');
  check.finite('rate', rate, { min: 0, max: 1 });
  check.check(Array.isArray(target) && Array.isArray(source), 'target', 'two arrays of tensors', target);
  check.check(target.length === source.length, 'source', `an array of ${target.length} tensors (one per target variable)`, source);
  target.forEach((v, i) => {
    check.check(v instanceof tf.Variable, `target[${i}]`, 'a tf.Variable', v);
    check.tensor(`source[${i}]`, source[i]);
    check.sameShape(`target[${i}]`, v, `source[${i}]`, source[i]);
  });
  runWithoutGradient(() => {
    target.forEach((v, i) => {
      const next = tf.tidy(() => tf.add(tf.mul(v, rate), tf.mul(source[i], 1 - rate)));
      v.assign(next);
      next.dispose();
    });
  });
}
