import * as tf from '@tensorflow/tfjs';
import { validate, type Network, type NetworkOptions, type Predictor } from '@fewstep/core';
import { oneStepSampler } from './consistency';
import { sample } from './sampler';

/**
 * Spherical interpolation of two latents (flattened): theta = arccos(<z1/|z1|, z2/|z2|>),
 * z(a) = sin((1-a) theta)/sin(theta) z1 + sin(a theta)/sin(theta) z2. When theta = 0 (parallel
 * latents) the weights' limit (1 - a, a) is used instead of dividing by sin(0).
 * Returns [alphas.length, ...z1.shape], owned by the caller.
 */
export function slerp(z1: tf.Tensor, z2: tf.Tensor, alphas: readonly number[]): tf.Tensor {
  const check = validate('slerp');
  check.tensor('z1', z1, { dtype: 'float32' });
  check.tensor('z2', z2, { dtype: 'float32' });
  check.sameShape('z1', z1, 'z2', z2);
  const a = check.numbers('alphas', alphas as number[], { minLength: 1 });
  return tf.tidy(() => {
    // The angle between the latents is 0/0 for a zero latent: reject it rather than return NaN.
    const norms = tf.stack([tf.norm(z1), tf.norm(z2)]).dataSync();
    norms.forEach((n, i) => check.check(n > 0 && Number.isFinite(n), `z${i + 1}`, 'a latent with a finite, non-zero norm', `norm ${n}`));
    const u1 = tf.div(z1, norms[0]);
    const u2 = tf.div(z2, norms[1]);
    const cos = tf.clipByValue(tf.sum(tf.mul(u1, u2)), -1, 1);
    const theta = tf.acos(cos).dataSync()[0];
    const sinTheta = Math.sin(theta);
    const rows = a.map((al) => {
      const [w1, w2] =
        sinTheta === 0 || theta === 0 ? [1 - al, al] : [Math.sin((1 - al) * theta) / sinTheta, Math.sin(al * theta) / sinTheta];
      return tf.add(tf.mul(z1, w1), tf.mul(z2, w2));
    });
    return tf.stack(rows);
  });
}

/** n evenly spaced interpolation weights in [0, 1] (numpy linspace). */
export function interpolationWeights(n: number): number[] {
  validate('interpolationWeights').size('n', n, 2);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 : i / (n - 1)));
}

/**
 * Latent interpolation with a consistency model (CM notebook): slerp the two latents, then decode
 * every interpolant in one step, x = f(sigmaMax z(a), sigmaMax). Returns the interpolated latents
 * and the decoded images, [n, ...z1.shape] each.
 */
export function interpolate(opts: {
  z1: tf.Tensor;
  z2: tf.Tensor;
  alphas: readonly number[];
  predictor?: Predictor;
  network?: Network;
  networkOptions?: NetworkOptions;
  sigmaMax?: number;
}): { latents: tf.Tensor; x: tf.Tensor } {
  const latents = slerp(opts.z1, opts.z2, opts.alphas);
  try {
    const x = sample(oneStepSampler({ sigmaMax: opts.sigmaMax }), {
      predictor: opts.predictor,
      network: opts.network,
      latents,
      networkOptions: opts.networkOptions,
    });
    return { latents, x };
  } catch (e) {
    latents.dispose();
    throw e;
  }
}
