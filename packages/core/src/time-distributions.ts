import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';
import type { NoiseSource } from './noise';

/** A distribution of training times / noise levels: one value per sample, drawn from a NoiseSource. */
export interface TimeDistribution {
  readonly name: string;
  sample(noise: NoiseSource, batch: number): tf.Tensor1D;
}

function checkBatch(where: string, noise: NoiseSource, batch: number): void {
  const check = validate(where);
  if (!noise || typeof noise.normal !== 'function') check.fail('noise', 'a NoiseSource', noise);
  check.size('batch', batch, 1);
}

/** EDM / ECT log-normal noise levels: sigma = exp(pMean + pStd n), n ~ N(0, 1) (one normal draw). */
export function logNormalTimes(opts: { pMean?: number; pStd?: number } = {}): TimeDistribution {
  const check = validate('logNormalTimes');
  const pMean = check.finite('pMean', opts.pMean ?? -1.2);
  const pStd = check.finite('pStd', opts.pStd ?? 1.2, { gt: 0 });
  return {
    name: 'log-normal',
    sample(noise, batch) {
      checkBatch('logNormalTimes.sample', noise, batch);
      return tf.tidy(() => tf.exp(tf.add(tf.mul(noise.normal([batch]), pStd), pMean))) as tf.Tensor1D;
    },
  };
}

/**
 * UCGM's time distribution (time_dist_ctrl [a, b, c]): t = clamp(c * Beta(a, b), 0, 1), one Beta
 * draw. tfjs has no Beta sampler; the seeded source builds it from two Gamma draws.
 */
export function betaTimes(opts: { a?: number; b?: number; scale?: number } = {}): TimeDistribution {
  const check = validate('betaTimes');
  const a = check.finite('a', opts.a ?? 1, { gt: 0 });
  const b = check.finite('b', opts.b ?? 1, { gt: 0 });
  const scale = check.finite('scale', opts.scale ?? 1, { gt: 0 });
  return {
    name: 'beta',
    sample(noise, batch) {
      checkBatch('betaTimes.sample', noise, batch);
      return tf.tidy(() => tf.clipByValue(tf.mul(noise.beta([batch], a, b), scale), 0, 1)) as tf.Tensor1D;
    },
  };
}

/** Logit-normal times (SD3 / rectified-flow practice): t = sigmoid(mean + std n). */
export function logitNormalTimes(opts: { mean?: number; std?: number } = {}): TimeDistribution {
  const check = validate('logitNormalTimes');
  const mean = check.finite('mean', opts.mean ?? 0);
  const std = check.finite('std', opts.std ?? 1, { gt: 0 });
  return {
    name: 'logit-normal',
    sample(noise, batch) {
      checkBatch('logitNormalTimes.sample', noise, batch);
      return tf.tidy(() => tf.sigmoid(tf.add(tf.mul(noise.normal([batch]), std), mean))) as tf.Tensor1D;
    },
  };
}

/** Uniform times in [low, high). */
export function uniformTimeDistribution(opts: { low?: number; high?: number } = {}): TimeDistribution {
  const check = validate('uniformTimeDistribution');
  const low = check.finite('low', opts.low ?? 0);
  const high = check.finite('high', opts.high ?? 1, { gt: low });
  return {
    name: 'uniform',
    sample(noise, batch) {
      checkBatch('uniformTimeDistribution.sample', noise, batch);
      return noise.uniform([batch], low, high) as tf.Tensor1D;
    },
  };
}
