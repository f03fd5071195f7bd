// Composing a sampler from the three parts of @fewstep/samplers: a time grid, a step rule and
// modifiers. The model is the exact denoiser of a Gaussian mixture, so no training is needed and
// every sample can be judged against the true distribution.
import * as tf from '@tensorflow/tfjs';
import { exponentialSigmas, karrasSigmas, sigmaTransport, validate, type Network } from '@fewstep/core';
import { churnStep, defineSampler, withDataEstimate, type Modifier, type Sampler, type StepRule } from '@fewstep/samplers';

/** Eight Gaussians of standard deviation `s` on a circle of radius 2 (as @fewstep/data's eightGaussians). */
export function eightGaussiansMeans(): number[][] {
  return Array.from({ length: 8 }, (_, k) => [2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)]);
}

/**
 * The exact denoiser D(x; sigma) = E[x0 | x0 + sigma z = x] of an equal-weight mixture of
 * N(mu_k, s^2 I): responsibilities r_k ∝ N(x; mu_k, (s^2 + sigma^2) I), and per component the
 * posterior mean (s^2 x + sigma^2 mu_k) / (s^2 + sigma^2). A fewstep `Network` in sigma space.
 */
export function mixtureDenoiser(means: number[][], s: number): Network {
  const mu = tf.tensor2d(means); // [K, 2]; kept for the program's lifetime
  tf.keep(mu);
  return (x, sigma) =>
    tf.tidy(() => {
      const v = tf.add(tf.square(sigma), s * s).reshape([-1, 1, 1]); // [B, 1, 1]
      const diff = tf.sub(x.expandDims(1), mu.expandDims(0)); // [B, K, 2]
      const logits = tf.div(tf.sum(tf.square(diff), -1, true), v).mul(-0.5); // [B, K, 1]
      const r = tf.softmax(logits.squeeze([2])).expandDims(2); // [B, K, 1]
      const s2 = sigma.square().reshape([-1, 1, 1]);
      const post = tf.div(tf.add(tf.mul(x.expandDims(1), s * s), tf.mul(mu.expandDims(0), s2)), v); // [B, K, 2]
      return tf.sum(tf.mul(r, post), 1);
    });
}

/**
 * A new step rule: the explicit midpoint method (second order, 2 evaluations) on the probability
 * flow ODE dx/dsigma = (x - D(x; sigma)) / sigma, written entirely with the (xHat, zHat) hand-off:
 * in sigma space zHat = (x - xHat) / sigma is exactly that derivative.
 */
export function midpointStep(): StepRule {
  return {
    name: 'midpoint',
    step(x, ctx) {
      const { xHat, zHat } = ctx.predict(x, ctx.t, ctx.networkOptions);
      if (ctx.tNext === 0) return { x: xHat.clone(), xHat, zHat }; // the last jump lands on the data estimate
      const tMid = Math.sqrt(ctx.t * ctx.tNext); // geometric midpoint: even in log sigma
      const xMid = tf.add(x, tf.mul(zHat, tMid - ctx.t));
      const mid = ctx.predict(xMid, tMid, ctx.networkOptions);
      return { x: tf.add(x, tf.mul(mid.zHat, ctx.tNext - ctx.t)), xHat, zHat };
    },
  };
}

/**
 * A new modifier: dynamic thresholding (Saharia et al. 2022, Imagen) of the data estimate. Rows
 * whose norm exceeds `radius` are scaled back onto the ball; zHat is recomputed so the pair stays
 * consistent with x (withDataEstimate).
 */
export function normThreshold(radius: number): Modifier {
  validate('normThreshold').finite('radius', radius, { gt: 0 });
  return {
    name: `norm-threshold(${radius})`,
    wrap: (inner, { transport }) => (x, t, opts) => {
      const e = inner(x, t, opts);
      const xHat = tf.tidy(() => tf.mul(e.xHat, tf.div(radius, tf.maximum(tf.norm(e.xHat, 'euclidean', -1, true), radius))));
      const out = withDataEstimate(transport, x, t, xHat);
      tf.dispose([e.xHat, e.zHat, xHat]);
      return out;
    },
  };
}

/** Three samplers built from parts. */
export function composedSamplers(steps: number): Record<string, Sampler> {
  const transport = sigmaTransport();
  return {
    // EDM's Heun rule on EDM's Karras grid, composed by hand: the same as edmSampler({steps}).
    heunKarras: defineSampler({ name: 'heun-karras', transport, grid: karrasSigmas(steps), rule: churnStep('heun', { draws: 'every-step' }), parameterisation: 'x0' }),
    // The new midpoint rule on an exponential (log-uniform) grid.
    midpointExp: defineSampler({ name: 'midpoint-exp', transport, grid: exponentialSigmas(steps, { sigmaMax: 40 }), rule: midpointStep(), parameterisation: 'x0' }),
    // The same plus the thresholding modifier.
    midpointExpThreshold: defineSampler({
      name: 'midpoint-exp-threshold',
      transport,
      grid: exponentialSigmas(steps, { sigmaMax: 40 }),
      rule: midpointStep(),
      modifiers: [normThreshold(2.5)],
      parameterisation: 'x0',
    }),
  };
}
