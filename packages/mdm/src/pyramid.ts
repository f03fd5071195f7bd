import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';

/**
 * The image pyramid of a nested model: images_k = avg_pool(images_{k-1}, s_{k-1} / s_k) for the
 * scales s (highest resolution first, ending in 1). Returns new tensors, the first a copy of `images`.
 */
export function imagePyramid(images: tf.Tensor, scales: readonly number[]): tf.Tensor4D[] {
  const check = validate('imagePyramid');
  const x = check.tensor('images', images, { rank: 4 }) as tf.Tensor4D;
  const s = check.numbers('scales', scales as number[], { minLength: 1, min: 1 });
  const top = s[0];
  if (x.shape[1] % top !== 0 || x.shape[2] % top !== 0) {
    check.fail('images', `a tensor whose height and width are multiples of ${top} (scales [${s}])`, images);
  }
  return tf.tidy(() => {
    const out: tf.Tensor4D[] = [x.clone()];
    for (let k = 1; k < s.length; k++) {
      const f = s[k - 1] / s[k];
      if (!Number.isInteger(f) || f < 1) check.fail('scales', 'decreasing scales with integer ratios', scales);
      const prev = out[k - 1];
      out.push(f === 1 ? prev.clone() : (tf.avgPool(prev, f, f, 'valid') as tf.Tensor4D));
    }
    return out;
  });
}

/**
 * Mixed-batch sizes: with ratio m_0:m_1:..., r = cumsum(m) / sum(m) and resolution k gets the
 * first int(r_k B) samples. Returns [r_k] and [b_k].
 */
export function mixedBatchSizes(ratio: readonly number[] | string, batch: number, numResolutions: number): { fractions: number[]; sizes: number[] } {
  const check = validate('mixedBatchSizes');
  const m = parseRatio('mixedBatchSizes', 'mixedRatio', ratio, numResolutions);
  check.integer('batch', batch, { min: 1 });
  const total = m.reduce((a, b) => a + b, 0);
  let acc = 0;
  const fractions = m.map((v) => (acc += v) / total);
  const sizes = fractions.map((r) => Math.floor(r * batch));
  sizes.forEach((b, k) => {
    if (b < 1) check.fail('mixedRatio', `a ratio that gives resolution ${k} at least one of the ${batch} samples`, ratio);
  });
  return { fractions, sizes };
}

/** Parses "16:4:1" or [16, 4, 1] and checks one positive entry per resolution. */
export function parseRatio(where: string, name: string, value: readonly number[] | string, numResolutions: number): number[] {
  const check = validate(where);
  const list = typeof value === 'string' ? value.split(':').map((v) => Number(v.trim())) : value;
  if (!Array.isArray(list) || list.length !== numResolutions) {
    check.fail(name, `${numResolutions} values (one per resolution, highest first)`, value);
  }
  return check.numbers(name, list, { gt: 0 });
}
