import { createRng, validate } from '@fewstep/core';
import { checkSameDim, toRows, type FeatureSet, type Rows } from './features';

export interface SlicedWassersteinOptions {
  /** Number of random directions (default 256); ignored for 1-D data, where the one direction is exact. */
  projections?: number;
  /** Seed of the directions (default 0). */
  seed?: number;
  /** Order p of the Wasserstein distance (default 2). */
  p?: number;
}

/**
 * The exact p-Wasserstein distance to the power p between two 1-D empirical distributions of any
 * sizes: the integral over u in (0, 1) of |F^-1(u) - G^-1(u)|^p, with both quantile functions
 * piecewise constant, evaluated exactly by merging their breakpoints i/n and j/m.
 */
export function wasserstein1dPow(a: ArrayLike<number>, b: ArrayLike<number>, p: number): number {
  const check = validate('wasserstein1dPow');
  check.numbers('a', a, { minLength: 1 });
  check.numbers('b', b, { minLength: 1 });
  check.finite('p', p, { min: 1 });
  return wasserstein1dPowUnchecked(Float64Array.from(a), Float64Array.from(b), p);
}

function wasserstein1dPowUnchecked(a: Float64Array, b: Float64Array, p: number): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let u = 0;
  let total = 0;
  while (i < n && j < m) {
    const nextX = (i + 1) / n;
    const nextY = (j + 1) / m;
    const next = Math.min(nextX, nextY);
    total += (next - u) * Math.abs(x[i] - y[j]) ** p;
    u = next;
    // Integer comparisons avoid advancing one side too early through float rounding.
    const cmp = (i + 1) * m - (j + 1) * n;
    if (cmp <= 0) i++;
    if (cmp >= 0) j++;
  }
  return total;
}

function project(r: Rows, dir: Float64Array): Float64Array {
  const out = new Float64Array(r.rows);
  for (let i = 0; i < r.rows; i++) {
    let s = 0;
    for (let d = 0; d < r.dim; d++) s += r.data[i * r.dim + d] * dir[d];
    out[i] = s;
  }
  return out;
}

/** Unit directions drawn uniformly on the sphere (normalised Gaussians) from a seed. */
export function randomDirections(count: number, dim: number, seed = 0): Float64Array[] {
  const check = validate('randomDirections');
  check.integer('count', count, { min: 1 });
  check.integer('dim', dim, { min: 1 });
  check.integer('seed', seed);
  const normal = createRng(seed).normal;
  return Array.from({ length: count }, () => {
    const v = new Float64Array(dim);
    let norm = 0;
    while (norm === 0) {
      norm = 0;
      for (let d = 0; d < dim; d++) {
        v[d] = normal();
        norm += v[d] * v[d];
      }
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) v[d] *= inv;
    return v;
  });
}

/**
 * The sliced p-Wasserstein distance (mean over random unit directions theta of W_p^p(theta.x, theta.y))^(1/p).
 * Each 1-D distance is exact (sizes may differ); in 1-D this is the exact Wasserstein distance.
 */
export function slicedWasserstein(x: FeatureSet, y: FeatureSet, options: SlicedWassersteinOptions = {}): number {
  const where = 'slicedWasserstein';
  const check = validate(where);
  const rx = toRows(where, 'x', x);
  const ry = toRows(where, 'y', y);
  checkSameDim(where, rx, ry, 'x', 'y');
  const count = check.integer('options.projections', options.projections ?? 256, { min: 1 });
  const seed = check.integer('options.seed', options.seed ?? 0);
  const p = check.finite('options.p', options.p ?? 2, { min: 1 });
  const dirs = rx.dim === 1 ? [Float64Array.of(1)] : randomDirections(count, rx.dim, seed);
  let total = 0;
  for (const dir of dirs) total += wasserstein1dPowUnchecked(project(rx, dir), project(ry, dir), p);
  return (total / dirs.length) ** (1 / p);
}
