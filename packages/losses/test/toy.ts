/**
 * Test-only pieces for the 2-D learning tests: a small MLP raw network, a Gaussian mixture,
 * an 18-step EDM Heun sampler built from core's heunStep, and the sliced Wasserstein distance.
 * (The real MLP, samplers and metrics live in nn / samplers / eval, which losses must not import.)
 */
import * as tf from '@tensorflow/tfjs';
import { heunStep, karrasSigmas, type RawNetwork, type Network } from '@fewstep/core';

export interface Mlp {
  raw: RawNetwork;
  vars: tf.Variable[];
  copyFrom(other: Mlp): void;
  dispose(): void;
}

/** F(u, n): [u, n, sin(k n), cos(k n)] -> hidden -> hidden -> 2, SiLU. */
export function mlp(hidden: number, seed: number): Mlp {
  const freqs = tf.tensor1d([1, 2, 4, 8]);
  const inDim = 2 + 1 + 8;
  const init = (shape: number[], s: number) => tf.variable(tf.randomNormal(shape, 0, Math.sqrt(1 / shape[0]), 'float32', s));
  const vars = [
    init([inDim, hidden], seed), tf.variable(tf.zeros([hidden])),
    init([hidden, hidden], seed + 1), tf.variable(tf.zeros([hidden])),
    init([hidden, 2], seed + 2), tf.variable(tf.zeros([2])),
  ];
  const silu = (v: tf.Tensor) => tf.mul(v, tf.sigmoid(v));
  const raw: RawNetwork = (u, n) =>
    tf.tidy(() => {
      const nn = n.reshape([-1, 1]);
      const ang = tf.mul(nn, freqs.reshape([1, -1]));
      const h0 = tf.concat([u, nn, tf.sin(ang), tf.cos(ang)], 1);
      const h1 = silu(tf.add(tf.matMul(h0, vars[0]), vars[1]));
      const h2 = silu(tf.add(tf.matMul(h1, vars[2]), vars[3]));
      return tf.add(tf.matMul(h2, vars[4]), vars[5]);
    });
  return {
    raw,
    vars,
    copyFrom: (o) => vars.forEach((v, i) => v.assign(o.vars[i])),
    dispose: () => tf.dispose([freqs, ...vars]),
  };
}

/** n points of a 4-mode mixture at (+-0.5, +-0.5) with std 0.08 (sigma_data ~ 0.5). */
export function mixture(n: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const modes = tf.tensor2d([[0.5, 0.5], [-0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]]);
    const idx = tf.randomUniform([n], 0, 4, 'int32', seed);
    return tf.add(tf.gather(modes, idx), tf.randomNormal([n, 2], 0, 0.08, 'float32', seed + 1)) as tf.Tensor2D;
  });
}

/** EDM's deterministic sampler: x = 80 z, Heun steps on the 18-step Karras grid (last step Euler). */
export function heunSample(denoiser: Network, z: tf.Tensor, steps = 18): tf.Tensor {
  const sigmas = karrasSigmas(steps);
  const D = (x: tf.Tensor, s: number | tf.Tensor) => denoiser(x, typeof s === 'number' ? tf.fill([x.shape[0]], s) : s);
  let x = tf.mul(z, sigmas[0]);
  for (let i = 0; i < steps; i++) {
    const next = tf.tidy(() => heunStep(D, x, sigmas[i], sigmas[i + 1]));
    x.dispose();
    x = next;
  }
  return x;
}

/** One-step consistency sampling: f(sigmaMax z, sigmaMax). */
export function oneStep(f: Network, z: tf.Tensor, sigmaMax = 80): tf.Tensor {
  return tf.tidy(() => f(tf.mul(z, sigmaMax), tf.fill([z.shape[0]], sigmaMax)));
}

/** Sliced Wasserstein-1 distance between two equal-size 2-D point sets over `k` fixed directions. */
export function slicedWasserstein(a: tf.Tensor, b: tf.Tensor, k = 64): number {
  return tf.tidy(() => {
    const ang = tf.linspace(0, Math.PI, k + 1).slice(0, k);
    const dirs = tf.stack([tf.cos(ang), tf.sin(ang)]); // [2, k]
    const proj = (p: tf.Tensor) => tf.transpose(tf.matMul(p, dirs)); // [k, n]
    const sorted = (p: tf.Tensor) => tf.neg(tf.topk(tf.neg(proj(p)), p.shape[0]).values);
    return tf.mean(tf.abs(tf.sub(sorted(a), sorted(b)))).dataSync()[0];
  });
}
