import { validate } from './errors';

/**
 * A small seeded pseudo-random source on JS numbers (mulberry32 uniforms, Box-Muller normals), for
 * everything that must replay from a seed without tensors: weight initialisation, toy data,
 * shuffles, categorical draws. The same seed gives the same stream on every platform and backend.
 */
export interface Rng {
  /** A uniform number in [0, 1). */
  uniform(): number;
  /** A standard normal number. */
  normal(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
}

/** A seeded random source (mulberry32: 32-bit state, period 2^32). */
export function createRng(seed: number): Rng {
  validate('createRng').integer('seed', seed);
  let state = seed >>> 0;
  let spare: number | null = null;
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

/** A 32-bit integer hash of two integers: derives independent seeds (per draw, per layer, per row). */
export function hash32(a: number, b: number): number {
  let h = Math.imul((a ^ 0x85ebca6b) >>> 0, 0xcc9e2d51) ^ Math.imul((b ^ 0xc2b2ae35) >>> 0, 0x1b873593);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
