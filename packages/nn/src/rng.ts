/**
 * A small seeded random number generator for weight initialisation. It runs in JS (no tensors),
 * so a given seed gives the same initial weights on every backend.
 */
export class Rng {
  private state: number;

  constructor(seed = 0) {
    // Mix the seed once so that nearby seeds give unrelated streams.
    this.state = hash32(seed >>> 0, 0x9e3779b9);
  }

  /** Uniform in [0, 1) (mulberry32). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** `n` draws of U(-1, 1) or N(0, 1) as a Float32Array. */
  fill(n: number, kind: 'uniform' | 'normal'): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = kind === 'uniform' ? this.uniform() * 2 - 1 : this.normal();
    return out;
  }

  /** A 31-bit integer, e.g. to seed another generator. */
  int(): number {
    return Math.floor(this.uniform() * 2147483647);
  }
}

/** A 32-bit integer hash of two integers (used to derive per-layer dropout seeds). */
export function hash32(a: number, b: number): number {
  let h = Math.imul((a ^ 0x85ebca6b) >>> 0, 0xcc9e2d51) ^ Math.imul((b ^ 0xc2b2ae35) >>> 0, 0x1b873593);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
