import * as tf from '@tensorflow/tfjs';
import { syncReadsAllowed, validate, type Network, type NetworkOptions, type Predictor } from '@fewstep/core';
import { oneStepSampler } from './consistency';
import { sample } from './sampler';

/**
 * Spherical interpolation of two latents (flattened): theta = arccos(<z1/|z1|, z2/|z2|>),
 * z(a) = sin((1-a) theta)/sin(theta) z1 + sin(a theta)/sin(theta) z2. When theta = 0 (parallel
 * latents) the weights' limit (1 - a, a) is used instead of dividing by sin(0).
 * theta and the weights stay on the device (nothing is read back per call). A zero or non-finite
 * norm makes theta undefined: where synchronous reads are allowed (cpu, wasm, webgl) that is a
 * FewstepError; on webgpu, which must not read synchronously, the same on-device guard that
 * handles theta = 0 applies the limit weights (1 - a, a) instead.
 * Returns [alphas.length, ...z1.shape], owned by the caller.
 */
export function slerp(z1: tf.Tensor, z2: tf.Tensor, alphas: readonly number[]): tf.Tensor {
  const check = validate('slerp');
  check.tensor('z1', z1, { dtype: 'float32' });
  check.tensor('z2', z2, { dtype: 'float32' });
  check.sameShape('z1', z1, 'z2', z2);
  const a = check.numbers('alphas', alphas as number[], { minLength: 1 });
  if (syncReadsAllowed()) checkNorms(check, z1, z2);
  return tf.tidy(() => {
    const [n1, n2] = [tf.norm(z1), tf.norm(z2)];
    const cos = tf.clipByValue(tf.sum(tf.mul(tf.div(z1, n1), tf.div(z2, n2))), -1, 1);
    const theta = tf.acos(cos);
    const sinTheta = tf.sin(theta);
    // theta = 0, or undefined (a zero or non-finite norm, reachable only on webgpu) -> the limit
    // weights; else the slerp weights. Tested on the norms, not on theta: GPUs may clamp NaN.
    const usable = (n: tf.Tensor) => tf.logicalAnd(tf.greater(n, 0), tf.isFinite(n));
    const limit = tf.logicalOr(tf.equal(sinTheta, 0), tf.logicalNot(tf.logicalAnd(usable(n1), usable(n2))));
    const al = tf.tensor1d(a, 'float32');
    const oneMinus = tf.sub(1, al);
    const safeSin = tf.where(limit, tf.onesLike(sinTheta), sinTheta);
    const w1 = tf.where(limit, oneMinus, tf.div(tf.sin(tf.mul(oneMinus, theta)), safeSin));
    const w2 = tf.where(limit, al, tf.div(tf.sin(tf.mul(al, theta)), safeSin));
    const perRow = [a.length, ...z1.shape.map(() => 1)];
    return tf.add(tf.mul(tf.reshape(w1, perRow), tf.expandDims(z1, 0)), tf.mul(tf.reshape(w2, perRow), tf.expandDims(z2, 0)));
  });
}

/** The angle between the latents is 0/0 for a zero latent: reject it rather than return NaN (one small sync read). */
function checkNorms(check: ReturnType<typeof validate>, z1: tf.Tensor, z2: tf.Tensor): void {
  const norms = tf.tidy(() => tf.stack([tf.norm(z1), tf.norm(z2)]));
  const values = norms.dataSync();
  norms.dispose();
  values.forEach((n, i) => check.check(n > 0 && Number.isFinite(n), `z${i + 1}`, 'a latent with a finite, non-zero norm', `norm ${n}`));
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
