import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';

/**
 * Reshapes a per-sample scalar ([B], or a JS number) so it broadcasts against `like`
 * ([B, ...]): [B] -> [B, 1, ..., 1]. The one place per-sample broadcasting happens.
 */
export function perSample(values: tf.Tensor | number, like: tf.Tensor): tf.Tensor {
  if (typeof values === 'number') return tf.scalar(values);
  const check = validate('perSample');
  check.tensor('values', values);
  const batch = like.shape[0];
  if (values.rank === 0) return values.clone();
  if (values.rank !== 1 || values.shape[0] !== batch) {
    check.fail('values', `a scalar or a tensor of shape [${batch}] (one value per sample of like)`, values);
  }
  return values.reshape([batch, ...new Array(like.rank - 1).fill(1)]);
}

/** Mean over every axis but the first: [B, ...] -> [B]. */
export function meanOverNonBatch(x: tf.Tensor): tf.Tensor1D {
  validate('meanOverNonBatch').tensor('x', x, { rank: [1, 2, 3, 4, 5, 6] });
  if (x.rank === 1) return x.clone() as tf.Tensor1D;
  return tf.mean(x, nonBatchAxes(x)) as tf.Tensor1D;
}

/** Sum over every axis but the first: [B, ...] -> [B]. */
export function sumOverNonBatch(x: tf.Tensor): tf.Tensor1D {
  validate('sumOverNonBatch').tensor('x', x, { rank: [1, 2, 3, 4, 5, 6] });
  if (x.rank === 1) return x.clone() as tf.Tensor1D;
  return tf.sum(x, nonBatchAxes(x)) as tf.Tensor1D;
}

function nonBatchAxes(x: tf.Tensor): number[] {
  return Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
}

/** A per-sample tensor [B] from a number (repeated) or a tensor (validated to be [B]). */
export function toPerSample(value: number | tf.Tensor, batch: number, where = 'toPerSample', arg = 't'): tf.Tensor1D {
  const check = validate(where);
  check.size('batch', batch, 0);
  if (typeof value === 'number') {
    check.number(arg, value);
    return tf.fill([batch], value) as tf.Tensor1D;
  }
  check.tensor(arg, value);
  if (value.rank === 0) return tf.broadcastTo(value, [batch]) as tf.Tensor1D;
  if (value.rank !== 1 || value.shape[0] !== batch) {
    check.fail(arg, `a number or a tensor of shape [${batch}]`, value);
  }
  return value.clone() as tf.Tensor1D;
}
