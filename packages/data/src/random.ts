import { validate } from '@fewstep/core';

/**
 * A small seeded pseudo-random source (mulberry32 for uniforms, Box-Muller for normals), so toy
 * data, shuffles and batches replay exactly from a seed number without touching tensors.
 */
export interface Rng {
  /** A uniform number in [0, 1). */
  uniform(): number;
  /** A standard normal number. */
  normal(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
}

/** A seeded random source: the same seed gives the same stream on every platform. */
export function createRng(seed: number): Rng {
  validate('createRng').integer('seed', seed);
  let state = seed >>> 0;
  let spare: number | null = null;
  // mulberry32: 32-bit state, full period 2^32, good enough for data shuffling and toy sampling.
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let r = state;
    r = Math.imul(r ^ (r >>> 15), r | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    // Box-Muller: 1 - u keeps the logarithm's argument in (0, 1].
    const u1 = 1 - uniform();
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };
  const int = (n: number): number => Math.floor(uniform() * n);
  return { uniform, normal, int };
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const check = validate('permutation');
  check.integer('n', n, { min: 0 });
  check.integer('seed', seed);
  const rng = createRng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}
