import * as tf from '@tensorflow/tfjs';
import { createRng, validate, type Rng } from '@fewstep/core';

/** The names of the built-in low-dimensional toy distributions. */
export const TOY_DISTRIBUTIONS = ['moons', 'eightGaussians', 'swissRoll', 'checkerboard', 'gaussian'] as const;
export type ToyDistribution = (typeof TOY_DISTRIBUTIONS)[number];

export interface ToyOptions {
  /** Seed of the sampling stream (default 0). */
  seed?: number;
  /** An injected random source (e.g. shared with a training loop); takes precedence over `seed`. */
  rng?: Rng;
  /** Standard deviation of the noise added to the clean shape (default per distribution). */
  noise?: number;
  /** Dimension of `gaussian` (1 or 2, default 2); the other distributions are 2-D. */
  dim?: 1 | 2;
  /** Mean of `gaussian` (default 0 in every coordinate). */
  mean?: number[];
  /** Standard deviation per coordinate of `gaussian` (default 1). */
  std?: number[];
}

type Sampler = (rng: Rng, out: Float32Array, i: number, noise: number) => void;

// Two interleaving half circles (scikit-learn's make_moons), centred and scaled to about unit spread.
const moons: Sampler = (rng, out, i, noise) => {
  const upper = rng.uniform() < 0.5;
  const a = Math.PI * rng.uniform();
  const x = upper ? Math.cos(a) : 1 - Math.cos(a);
  const y = upper ? Math.sin(a) : 0.5 - Math.sin(a);
  out[2 * i] = 2 * (x - 0.5) + noise * rng.normal();
  out[2 * i + 1] = 2 * (y - 0.25) + noise * rng.normal();
};

// Eight Gaussians on a circle of radius 2 (the FFJORD / flow-matching benchmark).
const eightGaussians: Sampler = (rng, out, i, noise) => {
  const k = rng.int(8);
  const a = (2 * Math.PI * k) / 8;
  out[2 * i] = 2 * Math.cos(a) + noise * rng.normal();
  out[2 * i + 1] = 2 * Math.sin(a) + noise * rng.normal();
};

// The 2-D swiss roll (x, z of scikit-learn's make_swiss_roll), scaled to about [-2.5, 2.5].
const swissRoll: Sampler = (rng, out, i, noise) => {
  const t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
  out[2 * i] = (t * Math.cos(t)) / 5 + noise * rng.normal();
  out[2 * i + 1] = (t * Math.sin(t)) / 5 + noise * rng.normal();
};

// A 4x4 checkerboard on [-2, 2]^2: uniform on the 8 dark squares (noise is ignored: edges are sharp).
const checkerboard: Sampler = (rng, out, i) => {
  const x = 4 * rng.uniform() - 2;
  const row = rng.int(2) * 2 + (Math.floor(x + 2) % 2 === 0 ? 1 : 0);
  out[2 * i] = x;
  out[2 * i + 1] = row + rng.uniform() - 2;
};

const SAMPLERS: Record<Exclude<ToyDistribution, 'gaussian'>, { sample: Sampler; noise: number }> = {
  moons: { sample: moons, noise: 0.05 },
  eightGaussians: { sample: eightGaussians, noise: 0.1 },
  swissRoll: { sample: swissRoll, noise: 0.05 },
  checkerboard: { sample: checkerboard, noise: 0 },
};

/** `n` samples of a toy distribution as plain float32 values, row-major `[n, dim]`. */
export function sampleToyArray(name: ToyDistribution, n: number, options: ToyOptions = {}): Float32Array {
  const check = validate('sampleToy');
  check.oneOf('name', name, TOY_DISTRIBUTIONS);
  check.integer('n', n, { min: 1 });
  const seed = check.integer('options.seed', options.seed ?? 0);
  const rng = options.rng ?? createRng(seed);
  const ok = typeof rng === 'object' && rng !== null && ['uniform', 'normal', 'int'].every((k) => typeof (rng as any)[k] === 'function');
  check.check(ok, 'options.rng', 'an Rng {uniform, normal, int} (see createRng)', rng);
  if (name === 'gaussian') return sampleGaussian(rng, n, options);
  const spec = SAMPLERS[name];
  const noise = check.finite('options.noise', options.noise ?? spec.noise, { min: 0 });
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) spec.sample(rng, out, i, noise);
  return out;
}

function sampleGaussian(rng: Rng, n: number, options: ToyOptions): Float32Array {
  const check = validate('sampleToy');
  const dim = options.dim ?? 2;
  check.check(dim === 1 || dim === 2, 'options.dim', '1 or 2', dim);
  const mean = check.numbers('options.mean', options.mean ?? new Array(dim).fill(0), { length: dim });
  const std = check.numbers('options.std', options.std ?? new Array(dim).fill(1), { length: dim, min: 0 });
  const out = new Float32Array(dim * n);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) out[i * dim + d] = mean[d] + std[d] * rng.normal();
  }
  return out;
}

/** `n` samples of a toy distribution as a float32 tensor `[n, 2]` (`[n, dim]` for `gaussian`). */
export function sampleToy(name: ToyDistribution, n: number, options: ToyOptions = {}): tf.Tensor2D {
  const values = sampleToyArray(name, n, options);
  return tf.tensor2d(values, [n, values.length / n], 'float32');
}
