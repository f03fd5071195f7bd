import { validate } from '@fewstep/core';
import { checkSameDim, toRows, type FeatureSet, type Rows } from './features';

export interface MmdOptions {
  /**
   * Gaussian kernel bandwidth(s) h in k(x, y) = exp(-|x - y|^2 / (2 h^2)); several bandwidths sum
   * their kernels (a multi-scale kernel). Default: the median pairwise distance of the pooled samples.
   */
  bandwidth?: number | number[];
}

function squaredDistance(a: Rows, i: number, b: Rows, j: number): number {
  let s = 0;
  for (let d = 0; d < a.dim; d++) {
    const diff = a.data[i * a.dim + d] - b.data[j * b.dim + d];
    s += diff * diff;
  }
  return s;
}

// The median heuristic: median of the pooled pairwise distances (on at most 1000 points for speed).
function medianBandwidth(x: Rows, y: Rows): number {
  const pooled: [Rows, number][] = [];
  const stride = Math.max(1, Math.ceil((x.rows + y.rows) / 1000));
  for (let i = 0; i < x.rows; i += stride) pooled.push([x, i]);
  for (let j = 0; j < y.rows; j += stride) pooled.push([y, j]);
  const dists: number[] = [];
  for (let p = 0; p < pooled.length; p++) {
    for (let q = p + 1; q < pooled.length; q++) {
      dists.push(Math.sqrt(squaredDistance(pooled[p][0], pooled[p][1], pooled[q][0], pooled[q][1])));
    }
  }
  dists.sort((a, b) => a - b);
  const median = dists[Math.floor(dists.length / 2)] ?? 0;
  return median > 0 ? median : 1;
}

function kernelMean(a: Rows, b: Rows, gammas: number[], sameSet: boolean): number {
  let sum = 0;
  for (let i = 0; i < a.rows; i++) {
    for (let j = sameSet ? i + 1 : 0; j < b.rows; j++) {
      const d2 = squaredDistance(a, i, b, j);
      for (const g of gammas) sum += Math.exp(-g * d2);
    }
  }
  // Within one set only distinct pairs count (the unbiased U-statistic): i < j, counted twice.
  return sameSet ? (2 * sum) / (a.rows * (a.rows - 1)) : sum / (a.rows * b.rows);
}

/**
 * The unbiased estimate of the squared maximum mean discrepancy with a Gaussian kernel
 * (Gretton et al. 2012, eq. 3):
 *
 *     MMD^2_u = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)
 *
 * Zero in expectation when both sets come from one distribution (so it can be slightly negative).
 * O((N + M)^2 D) time: meant for low-dimensional data and a few thousand samples.
 */
export function mmdUnbiased(x: FeatureSet, y: FeatureSet, options: MmdOptions = {}): number {
  const where = 'mmdUnbiased';
  const check = validate(where);
  const rx = toRows(where, 'x', x, 2);
  const ry = toRows(where, 'y', y, 2);
  checkSameDim(where, rx, ry, 'x', 'y');
  const raw = options.bandwidth ?? medianBandwidth(rx, ry);
  const bandwidths = typeof raw === 'number' ? [check.finite('options.bandwidth', raw, { gt: 0 })] : check.numbers('options.bandwidth', raw, { gt: 0, minLength: 1 });
  const gammas = bandwidths.map((h) => 1 / (2 * h * h));
  return kernelMean(rx, rx, gammas, true) + kernelMean(ry, ry, gammas, true) - 2 * kernelMean(rx, ry, gammas, false);
}
