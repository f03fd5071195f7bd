import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';
import type { Transport } from './transport';

/**
 * Single ODE steps shared by the samplers and by CD's teacher. `denoise(x, sigma)` is any
 * denoiser in EDM sigma space (x_sigma = x + sigma z); sigma is a JS number shared by the batch
 * or a per-sample tensor [B] (then broadcast).
 */
export type Denoiser = (x: tf.Tensor, sigma: number | tf.Tensor) => tf.Tensor;

type Sigma = number | tf.Tensor;

function scale(s: Sigma, like: tf.Tensor): number | tf.Tensor {
  return typeof s === 'number' ? s : s.reshape([like.shape[0], ...new Array(like.rank - 1).fill(1)]);
}

function checkStep(where: string, x: tf.Tensor, sigma: Sigma, sigmaNext: Sigma): void {
  const check = validate(where);
  check.tensor('x', x);
  for (const [name, s] of [['sigma', sigma], ['sigmaNext', sigmaNext]] as const) {
    if (typeof s === 'number') check.finite(name, s, { min: 0 });
    else {
      check.shape(name, s, [x.shape[0]]);
      // An int32 / bool sigma silently rounds to 0, where the slope (x - D) / sigma is infinite.
      check.tensor(name, s, { dtype: 'float32' });
    }
  }
  if (typeof sigma === 'number') check.finite('sigma', sigma, { gt: 0 });
}

/** The PF-ODE slope d = (x - D(x, sigma)) / sigma (Karras et al. 2022, eq. 3). */
export function odeDerivative(denoise: Denoiser, x: tf.Tensor, sigma: Sigma): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(x, denoise(x, sigma)), scale(sigma, x)));
}

/** One Euler step of the probability-flow ODE from sigma to sigmaNext. */
export function eulerStep(denoise: Denoiser, x: tf.Tensor, sigma: Sigma, sigmaNext: Sigma): tf.Tensor {
  checkStep('eulerStep', x, sigma, sigmaNext);
  return tf.tidy(() => {
    const d = odeDerivative(denoise, x, sigma);
    return tf.add(x, tf.mul(d, tf.sub(scale(sigmaNext, x), scale(sigma, x))));
  });
}

/**
 * One Heun (2nd-order) step from sigma to sigmaNext (Karras et al. 2022, Alg. 1). Where
 * sigmaNext = 0 it falls back to Euler, as EDM and k-diffusion do (the slope is undefined there).
 */
export function heunStep(denoise: Denoiser, x: tf.Tensor, sigma: Sigma, sigmaNext: Sigma): tf.Tensor {
  checkStep('heunStep', x, sigma, sigmaNext);
  if (typeof sigmaNext === 'number' && sigmaNext === 0) return eulerStep(denoise, x, sigma, sigmaNext);
  return tf.tidy(() => {
    const h = tf.sub(scale(sigmaNext, x), scale(sigma, x));
    const d = odeDerivative(denoise, x, sigma);
    const xEuler = tf.add(x, tf.mul(d, h));
    if (typeof sigmaNext !== 'number') {
      // Per-sample: rows with sigmaNext = 0 keep the Euler result (no division by zero leaks in).
      const positive = tf.greater(sigmaNext, 0);
      const d2 = odeDerivative(denoise, xEuler, tf.where(positive, sigmaNext, tf.onesLike(sigmaNext)));
      const heun = tf.add(x, tf.mul(tf.add(d, d2), tf.mul(h, 0.5)));
      return tf.where(tf.broadcastTo(scale(positive, x) as tf.Tensor, x.shape), heun, xEuler);
    }
    const d2 = odeDerivative(denoise, xEuler, sigmaNext);
    return tf.add(x, tf.mul(tf.add(d, d2), tf.mul(h, 0.5)));
  });
}

/**
 * The first-order (DDIM / Euler) step of the unified sampler in any transport:
 * x_next = gammaIn(tNext) xHat + alphaIn(tNext) zHat.
 */
export function transportStep(transport: Transport, xHat: tf.Tensor, zHat: tf.Tensor, tNext: number): tf.Tensor {
  const check = validate('transportStep');
  check.tensor('xHat', xHat);
  check.tensor('zHat', zHat);
  check.sameShape('xHat', xHat, 'zHat', zHat);
  transport.checkTime('transportStep', 'tNext', tNext);
  return tf.tidy(() => tf.add(tf.mul(xHat, transport.gammaIn(tNext)), tf.mul(zHat, transport.alphaIn(tNext))));
}
