import { createRng, hash32, type Rng as CoreRng } from '@fewstep/core';

export { hash32 };

/**
 * The seeded generator for weight initialisation: core's (JS numbers, no tensors), so a seed
 * gives the same initial weights on every backend, with the helpers initialisers need.
 */
export class Rng {
  private readonly source: CoreRng;

  constructor(seed = 0) {
    // Mix the seed once so that nearby seeds give unrelated streams.
    this.source = createRng(hash32(seed >>> 0, 0x9e3779b9));
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.source.uniform();
  }

  /** Standard normal. */
  normal(): number {
    return this.source.normal();
  }

  /** `n` draws of U(-1, 1) or N(0, 1) as a Float32Array. */
  fill(n: number, kind: 'uniform' | 'normal'): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = kind === 'uniform' ? this.uniform() * 2 - 1 : this.normal();
    return out;
  }

  /** A 31-bit integer, e.g. to seed another generator. */
  int(): number {
    return this.source.int(2147483647);
  }
}
