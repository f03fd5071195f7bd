import { validate } from '@fewstep/core';
import { checkSameDim, toRows, type FeatureSet } from './features';
import { matmulUnchecked as matmul, meanAndCovariance, symmetricEigen, sqrtPsd, trace } from './linalg';

/** Gaussian statistics of a feature set: mean `[D]` and unbiased covariance `[D, D]` (float64). */
export interface FeatureStatistics {
  dim: number;
  count: number;
  mean: Float64Array;
  cov: Float64Array;
}

/** The mean and covariance of a feature set (at least 2 samples). */
export function featureStatistics(features: FeatureSet): FeatureStatistics {
  const rows = toRows('featureStatistics', 'features', features, 2);
  const { mean, cov } = meanAndCovariance(rows.data, rows.rows, rows.dim);
  return { dim: rows.dim, count: rows.rows, mean, cov };
}

function checkStats(where: string, argument: string, s: FeatureStatistics): void {
  const check = validate(where);
  const ok =
    typeof s === 'object' && s !== null && Number.isInteger(s.dim) && s.dim >= 1 &&
    s.mean?.length === s.dim && s.cov?.length === s.dim * s.dim;
  check.check(ok, argument, 'FeatureStatistics {dim, mean[dim], cov[dim*dim]}', s);
  const bad = [...Array.from(s.mean), ...Array.from(s.cov)].findIndex((v) => !Number.isFinite(v));
  check.check(bad < 0, argument, 'finite mean and covariance', 'a non-finite value');
}

/**
 * The Fréchet distance between the Gaussians N(mu1, S1) and N(mu2, S2):
 *
 *     |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))
 *
 * (the squared 2-Wasserstein distance; FID when the features are Inception's). The trace term uses
 * tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)): the inner matrix is symmetric PSD, so two
 * symmetric eigen-decompositions replace the general (complex) square root of S1 S2.
 */
export function frechetDistanceFromStatistics(a: FeatureStatistics, b: FeatureStatistics): number {
  const where = 'frechetDistanceFromStatistics';
  checkStats(where, 'a', a);
  checkStats(where, 'b', b);
  validate(where).check(a.dim === b.dim, 'b', `statistics of dimension ${a.dim} like a`, `dimension ${b.dim}`);
  const n = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  const root1 = sqrtPsd(a.cov, n);
  const inner = matmul(matmul(root1, b.cov, n), root1, n);
  const { values } = symmetricEigen(inner, n);
  let traceRoot = 0;
  for (const l of values) traceRoot += Math.sqrt(Math.max(l, 0));
  // Rounding can make the distance of identical sets a tiny negative number; it is >= 0 exactly.
  return Math.max(0, meanTerm + trace(a.cov, n) + trace(b.cov, n) - 2 * traceRoot);
}

/** The Fréchet distance between the Gaussian fits of two feature sets (`[N, D]`, N >= 2 each). */
export function frechetDistance(a: FeatureSet, b: FeatureSet): number {
  const where = 'frechetDistance';
  const ra = toRows(where, 'a', a, 2);
  const rb = toRows(where, 'b', b, 2);
  checkSameDim(where, ra, rb);
  const sa = meanAndCovariance(ra.data, ra.rows, ra.dim);
  const sb = meanAndCovariance(rb.data, rb.rows, rb.dim);
  return frechetDistanceFromStatistics(
    { dim: ra.dim, count: ra.rows, ...sa },
    { dim: rb.dim, count: rb.rows, ...sb },
  );
}
