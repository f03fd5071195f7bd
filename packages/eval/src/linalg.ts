import { validate } from '@fewstep/core';

/** Checks that `a` holds an n x n matrix of finite numbers. */
function checkSquare(where: string, argument: string, a: Float64Array, n: number): void {
  const check = validate(where);
  check.integer('n', n, { min: 1 });
  check.check(a instanceof Float64Array && a.length === n * n, argument, `a Float64Array of n*n = ${n * n} values`, a instanceof Float64Array ? `${a.length} values` : a);
  const bad = a.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) check.fail(`${argument}[${bad}]`, 'a finite number', a[bad]);
}

/**
 * Dense float64 linear algebra for the metrics (JS numbers, so results do not depend on a
 * backend's float32). Matrices are row-major Float64Array of n*n.
 */

/** C = A B for n x n matrices. */
export function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  checkSquare('matmul', 'a', a, n);
  checkSquare('matmul', 'b', b, n);
  return matmulUnchecked(a, b, n);
}

export function matmulUnchecked(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}

/** Sum of the diagonal (internal: inputs already checked). */
export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: A = V diag(values) V^T,
 * V's columns the eigenvectors. Jacobi is slow (O(n^3) per sweep) but unconditionally stable and
 * accurate to a few ulps relative to ||A||, which matters for the square roots of nearly singular
 * covariances in the Fréchet distance.
 */
export function symmetricEigen(matrix: Float64Array, n: number, maxSweeps = 100): { values: Float64Array; vectors: Float64Array } {
  checkSquare('symmetricEigen', 'matrix', matrix, n);
  validate('symmetricEigen').integer('maxSweeps', maxSweeps, { min: 1 });
  const a = Float64Array.from(matrix);
  // Symmetrise: tiny asymmetries from float accumulation would otherwise be lost silently.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const m = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = m;
      a[j * n + i] = m;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  const tol = 1e-30 * Math.max(scale, Number.MIN_VALUE);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tol) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) rotate(a, v, n, p, q);
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

// One Jacobi rotation zeroing a[p][q] (Golub & Van Loan, Algorithm 8.4.1 with the stable tangent).
function rotate(a: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const apq = a[p * n + q];
  if (apq === 0) return;
  const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const akp = a[k * n + p];
    const akq = a[k * n + q];
    a[k * n + p] = c * akp - s * akq;
    a[k * n + q] = s * akp + c * akq;
  }
  for (let k = 0; k < n; k++) {
    const apk = a[p * n + k];
    const aqk = a[q * n + k];
    a[p * n + k] = c * apk - s * aqk;
    a[q * n + k] = s * apk + c * aqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p];
    const vkq = v[k * n + q];
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

/**
 * The principal square root of a symmetric positive semi-definite matrix, V diag(sqrt(max(l, 0))) V^T:
 * eigenvalues that rounding pushed slightly below zero are clipped rather than made complex.
 */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  checkSquare('sqrtPsd', 'a', a, n);
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * s;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

/** Column means and the unbiased (n - 1) covariance of `rows` x `dim` samples. */
export function meanAndCovariance(data: Float64Array, rows: number, dim: number): { mean: Float64Array; cov: Float64Array } {
  const check = validate('meanAndCovariance');
  check.integer('rows', rows, { min: 2 });
  check.integer('dim', dim, { min: 1 });
  check.check(data instanceof Float64Array && data.length === rows * dim, 'data', `a Float64Array of rows*dim = ${rows * dim} values`, data);
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += data[r * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= rows;
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) centred[d] = data[r * dim + d] - mean[d];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      for (let j = i; j < dim; j++) cov[i * dim + j] += ci * centred[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const c = cov[i * dim + j] / (rows - 1);
      cov[i * dim + j] = c;
      cov[j * dim + i] = c;
    }
  }
  return { mean, cov };
}
