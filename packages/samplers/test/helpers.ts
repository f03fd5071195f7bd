import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGolden, goldenDraws, type Golden } from '@fewstep/testing';
import { replayNoise, type Network, type Transport } from '@fewstep/core';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const golden = (name: string): Golden => loadGolden(FIXTURES, name);

/** Replays a golden file's params.random_draws in call order. */
export const goldenNoise = (g: Golden) => replayNoise(goldenDraws(g));

/** Records the first per-sample time of every network call. */
export function recording(net: Network): { net: Network; times: number[] } {
  const times: number[] = [];
  return {
    times,
    net: (x, t, o) => {
      times.push(t.dataSync()[0]);
      return net(x, t, o);
    },
  };
}

const bcast = (t: tf.Tensor, x: tf.Tensor) => t.reshape([x.shape[0], ...new Array(x.rank - 1).fill(1)]);

/** Exact posterior mean for data ~ N(mu, s^2 I) in sigma space: D(x; sigma) = mu + s^2/(s^2+sigma^2) (x - mu). */
export function gaussDenoiser(mu: number, s: number): Network {
  return (x, sigma) =>
    tf.tidy(() => {
      const sg = bcast(sigma, x);
      return tf.add(mu, tf.mul(tf.div(s * s, tf.add(s * s, tf.square(sg))), tf.sub(x, mu)));
    });
}

/** Exact consistency function: f(x, sigma) = mu + sqrt((s^2 + smin^2)/(s^2 + sigma^2)) (x - mu). */
export function gaussConsistency(mu: number, s: number, sigmaMin: number): Network {
  return (x, sigma) =>
    tf.tidy(() => {
      const sg = bcast(sigma, x);
      const k = tf.sqrt(tf.div(s * s + sigmaMin * sigmaMin, tf.add(s * s, tf.square(sg))));
      return tf.add(mu, tf.mul(k, tf.sub(x, mu)));
    });
}

/** UCGM golden test model: exact Gaussian posterior (per-channel mu) returning the native F. */
export function ucgmGaussModel(T: Transport, mu: number[], s: number): Network {
  return (x, t) =>
    tf.tidy(() => {
      const a = bcast(T.alphaIn(t), x);
      const g = bcast(T.gammaIn(t), x);
      const m = tf.tensor1d(mu);
      const D = tf.add(tf.mul(tf.square(g), s * s), tf.square(a));
      const r = tf.sub(x, tf.mul(g, m));
      const xHat = tf.add(m, tf.div(tf.mul(tf.mul(g, s * s), r), D));
      const zHat = tf.div(tf.mul(a, r), D);
      return tf.add(tf.mul(bcast(T.alphaTo(t), x), zHat), tf.mul(bcast(T.gammaTo(t), x), xHat));
    });
}
