import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import {
  featureStatistics,
  frechetDistance,
  frechetDistanceFromStatistics,
  meanAndCovariance,
  mmdUnbiased,
  randomDirections,
  slicedWasserstein,
  sqrtPsd,
  symmetricEigen,
  wasserstein1dPow,
  type FeatureStatistics,
} from '@fewstep/eval';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { matmul } from '../src/linalg';

beforeAll(useTestBackend);

// A deterministic pseudo-random matrix (LCG), so tests need no extra generator.
function lcgRows(n: number, d: number, seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  return Array.from({ length: n }, () => Array.from({ length: d }, next));
}

function stats(mean: number[], cov: number[][]): FeatureStatistics {
  return { dim: mean.length, count: 10, mean: Float64Array.from(mean), cov: Float64Array.from(cov.flat()) };
}

describe('linear algebra', () => {
  it('Jacobi eigen-decomposition reconstructs a symmetric matrix with orthonormal vectors', () => {
    const n = 7;
    const b = lcgRows(n, n, 3).flat();
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rec = 0;
        let dot = 0;
        for (let k = 0; k < n; k++) {
          rec += vectors[i * n + k] * values[k] * vectors[j * n + k];
          dot += vectors[k * n + i] * vectors[k * n + j];
        }
        expect(Math.abs(rec - a[i * n + j])).toBeLessThan(1e-12);
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });
  it('sqrtPsd squares back to the matrix, also when singular', () => {
    const rows = lcgRows(5, 4, 11).flat();
    const g = new Float64Array(16);
    // G = R^T R with R 5x4: PSD; then a rank-1 matrix (singular).
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) g[i * 4 + j] += rows[k * 4 + i] * rows[k * 4 + j];
    const rank1 = Float64Array.from([1, 2, 3, 2, 4, 6, 3, 6, 9]);
    for (const [m, n] of [[g, 4], [rank1, 3]] as const) {
      const r = sqrtPsd(m, n);
      const sq = matmul(r, r, n);
      sq.forEach((v, i) => expect(Math.abs(v - m[i])).toBeLessThan(1e-12 * 20));
    }
    // sqrt of diag(4, 9) is diag(2, 3).
    expect(Array.from(sqrtPsd(Float64Array.from([4, 0, 0, 9]), 2))).toEqual([2, 0, 0, 3]);
  });
  it('rejects malformed matrices with FewstepError', () => {
    expect(() => sqrtPsd(Float64Array.of(1, 2, 3), 2)).toThrowError(/sqrtPsd: a must be a Float64Array of n\*n = 4 values, got "3 values"/);
    expect(() => symmetricEigen(Float64Array.of(1, NaN, NaN, 1), 2)).toThrowError(/matrix\[1\] must be a finite number, got NaN/);
    expect(() => matmul([1] as never, Float64Array.of(1), 1)).toThrowError(/matmul: a must be a Float64Array/);
    expect(() => symmetricEigen(Float64Array.of(1), 0)).toThrowError(/n must be an integer >= 1/);
    expect(() => meanAndCovariance(Float64Array.of(1, 2), 1, 2)).toThrowError(/rows must be an integer >= 2/);
    expect(() => meanAndCovariance(Float64Array.of(1, 2), 2, 2)).toThrowError(/data must be a Float64Array of rows\*dim = 4 values/);
  });
});

describe('frechetDistance', () => {
  it('is 0 for identical sets (also rank-deficient, with a tensor input) without leaks', async () => {
    const a = lcgRows(40, 5, 1);
    expect(frechetDistance(a, a)).toBeLessThan(1e-10);
    // Features living in a 2-D subspace of 3-D: singular covariance, still 0 and not NaN.
    const flat = a.map(([x, y]) => [x, y, x + y]);
    expect(frechetDistance(flat, flat)).toBeLessThan(1e-10);
    const t = tf.tensor2d(a);
    const d = await expectNoLeak(() => frechetDistance(t, t));
    expect(d).toBeLessThan(1e-6);
    t.dispose();
  });
  it('matches the closed form for diagonal covariances: |dmu|^2 + sum (s1 - s2)^2', () => {
    const s1 = [0.5, 2, 3, 1e-4];
    const s2 = [1, 1, 3, 4];
    const mu1 = [0, 1, 2, 3];
    const mu2 = [1, 1, -2, 3];
    const diag = (s: number[]) => s.map((v, i) => s.map((_, j) => (i === j ? v * v : 0)));
    const expected = 1 + 16 + s1.reduce((acc, v, i) => acc + (v - s2[i]) ** 2, 0);
    const got = frechetDistanceFromStatistics(stats(mu1, diag(s1)), stats(mu2, diag(s2)));
    expect(Math.abs(got - expected)).toBeLessThan(1e-12 * expected);
  });
  it('matches a hand-computed 2x2 case: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2))', () => {
    // S1 = [[2, 1], [1, 2]], S2 = diag(1, 4): tr(S1 S2) = 10, det = 3 * 4 = 12.
    const expected = 5 + 4 + 5 - 2 * Math.sqrt(10 + 2 * Math.sqrt(12));
    const got = frechetDistanceFromStatistics(stats([0, 0], [[2, 1], [1, 2]]), stats([1, 2], [[1, 0], [0, 4]]));
    expect(Math.abs(got - expected)).toBeLessThan(1e-13);
  });
  it('uses unbiased covariances of samples: shift and scale of a square', () => {
    const a = [[0, 0], [2, 0], [0, 2], [2, 2]]; // mean (1, 1), covariance 4/3 I
    expect(frechetDistance(a, a.map(([x, y]) => [x + 3, y]))).toBeCloseTo(9, 12);
    // 2a: mean (2, 2), covariance 16/3 I: 2 + 2 (sqrt(4/3) - sqrt(16/3))^2 = 2 + 8/3.
    expect(frechetDistance(a, a.map(([x, y]) => [2 * x, 2 * y]))).toBeCloseTo(2 + 8 / 3, 12);
    const s = featureStatistics(a);
    expect(Array.from(s.mean)).toEqual([1, 1]);
    expect(Array.from(s.cov).map((v) => Math.round(v * 3e9) / 1e9)).toEqual([4, 0, 0, 4]);
  });
  it('matches scipy.linalg.sqrtm (the pytorch-fid formula) on random 3, 8 and 16-dim features', () => {
    const ref = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'frechet_scipy.json'), 'utf8'));
    for (const c of ref.cases) {
      const got = frechetDistance(c.a, c.b);
      expect(Math.abs(got - c.fid)).toBeLessThan(1e-8 * Math.max(1, c.fid));
    }
  });
  it('rejects bad input with FewstepError naming the argument', () => {
    const a = [[0, 1], [1, 0], [2, 2]];
    expect(() => frechetDistance(a, [[0, 1, 2], [1, 2, 3]])).toThrowError(/frechetDistance: b must be features of dimension 2 like a, got "dimension 3"/);
    expect(() => frechetDistance(a, [[0, 1]])).toThrowError(/b must be at least 2 samples/);
    expect(() => frechetDistance([[0, NaN], [1, 1]], a)).toThrowError(/a\[0\]\[1\] must be a finite number, got NaN/);
    expect(() => frechetDistance([[0, 1], [1]], a)).toThrowError(/a\[1\] must be a row of 2 numbers/);
    expect(() => frechetDistance('x' as never, a)).toThrowError(FewstepError);
    expect(() => frechetDistance(tf.zeros([2, 2, 2]) as never, a)).toThrowError(/a must be a tensor of rank 1 or 2/);
    expect(() => frechetDistanceFromStatistics({} as never, stats([0], [[1]]))).toThrowError(/a must be FeatureStatistics/);
    expect(() => frechetDistanceFromStatistics(stats([0], [[1]]), stats([0, 0], [[1, 0], [0, 1]]))).toThrowError(/b must be statistics of dimension 1/);
    expect(() => featureStatistics([[1, 2]])).toThrowError(/featureStatistics: features must be at least 2 samples/);
  });
});

describe('mmdUnbiased', () => {
  it('matches a hand-computed case', () => {
    // x = {0, 1}, y = {2, 3}, h = 1: k = exp(-d^2 / 2).
    const k = (d: number) => Math.exp(-(d * d) / 2);
    const expected = k(1) + k(1) - (2 / 4) * (k(2) + k(3) + k(1) + k(2));
    expect(Math.abs(mmdUnbiased([[0], [1]], [[2], [3]], { bandwidth: 1 }) - expected)).toBeLessThan(1e-15);
    // Two bandwidths sum their kernels.
    const k2 = (d: number) => k(d) + Math.exp(-(d * d) / 8);
    const expected2 = 2 * k2(1) - 0.5 * (2 * k2(2) + k2(3) + k2(1));
    expect(Math.abs(mmdUnbiased([[0], [1]], [[2], [3]], { bandwidth: [1, 2] }) - expected2)).toBeLessThan(1e-15);
  });
  it('estimates the population MMD^2 of two Gaussians (closed form) and ~0 for one distribution', () => {
    // N(0, s^2) vs N(delta, s^2), kernel width h: MMD^2 = 2 h / sqrt(h^2 + 2 s^2) (1 - exp(-delta^2 / (2 (h^2 + 2 s^2)))).
    const gauss = (n: number, mu: number, seed: number) => {
      const u = lcgRows(n, 2, seed);
      return u.map(([a, b]) => [mu + Math.sqrt(-2 * Math.log((a + 1) / 2 + 1e-12)) * Math.cos(Math.PI * (b + 1))]);
    };
    const [h, s, delta] = [1, 1, 1];
    const population = ((2 * h) / Math.sqrt(h * h + 2 * s * s)) * (1 - Math.exp(-(delta * delta) / (2 * (h * h + 2 * s * s))));
    const x = gauss(1500, 0, 5);
    const y = gauss(1500, delta, 77);
    const est = mmdUnbiased(x, y, { bandwidth: h });
    expect(Math.abs(est - population)).toBeLessThan(0.2 * population);
    const same = mmdUnbiased(x, gauss(1500, 0, 99), { bandwidth: h });
    expect(Math.abs(same)).toBeLessThan(0.1 * population);
  });
  it('uses the median heuristic by default, works on tensors without leaks, and rejects bad input', async () => {
    const x = tf.tensor2d(lcgRows(30, 2, 1));
    const y = tf.tensor2d(lcgRows(30, 2, 2));
    const v = await expectNoLeak(() => mmdUnbiased(x, y));
    expect(Number.isFinite(v)).toBe(true);
    expect(() => mmdUnbiased(x, y, { bandwidth: 0 })).toThrowError(/options.bandwidth must be a number > 0, got 0/);
    expect(() => mmdUnbiased(x, y, { bandwidth: [1, -1] })).toThrowError(/options.bandwidth\[1\]/);
    expect(() => mmdUnbiased(x, [[1], [2]])).toThrowError(/y must be features of dimension 2 like x/);
    expect(() => mmdUnbiased([[1, 2]], y)).toThrowError(/x must be at least 2 samples/);
    tf.dispose([x, y]);
  });
});

describe('slicedWasserstein', () => {
  it('exact 1-D Wasserstein for unequal sizes (hand-computed)', () => {
    // F^-1: 0 on [0, 1/2), 1 on [1/2, 1); G^-1: 0 on [0, 2/3), 3 on [2/3, 1): W1 = 1/6 + 2/3.
    expect(wasserstein1dPow(Float64Array.of(1, 0), Float64Array.of(0, 3, 0), 1)).toBeCloseTo(5 / 6, 14);
    expect(wasserstein1dPow(Float64Array.of(1, 0), Float64Array.of(0, 3, 0), 2)).toBeCloseTo(1 / 6 + 4 / 3, 14);
    expect(slicedWasserstein([[1], [0]], [[0], [3], [0]], { p: 1 })).toBeCloseTo(5 / 6, 14);
    expect(() => wasserstein1dPow([], [1], 1)).toThrowError(/a must be an array of at least 1 numbers/);
    expect(() => wasserstein1dPow([1], [NaN], 1)).toThrowError(/b\[0\] must be a finite number/);
    expect(() => wasserstein1dPow([1], [1], 0)).toThrowError(/p must be a number >= 1/);
  });
  it('1-D shift by c gives exactly c; 2-D shift by c gives |c| / sqrt(2) as projections grow', () => {
    const x = lcgRows(200, 1, 4);
    expect(slicedWasserstein(x, x.map(([v]) => [v + 0.7]))).toBeCloseTo(0.7, 12);
    const x2 = lcgRows(300, 2, 5);
    const c = [3, 4];
    // E over directions of (theta . c)^2 = |c|^2 / 2 in 2-D.
    const sw = slicedWasserstein(x2, x2.map(([a, b]) => [a + c[0], b + c[1]]), { projections: 2000, seed: 1 });
    // A shift moves every projected sample by theta . c, so each slice is exactly (theta . c)^2.
    const exact = Math.sqrt(randomDirections(2000, 2, 1).reduce((acc, t) => acc + (t[0] * c[0] + t[1] * c[1]) ** 2, 0) / 2000);
    expect(Math.abs(sw - exact)).toBeLessThan(1e-9);
    expect(Math.abs(sw - 5 / Math.SQRT2)).toBeLessThan(0.15);
    expect(slicedWasserstein(x2, x2)).toBe(0);
  });
  it('is reproducible from the seed, uses unit directions, leaks nothing, rejects bad input', async () => {
    const dirs = randomDirections(10, 3, 2);
    for (const d of dirs) expect(Math.abs(Math.hypot(...d) - 1)).toBeLessThan(1e-12);
    const a = tf.tensor2d(lcgRows(50, 3, 1));
    const b = tf.tensor2d(lcgRows(60, 3, 2));
    const s1 = await expectNoLeak(() => slicedWasserstein(a, b, { seed: 3, projections: 16 }));
    expect(slicedWasserstein(a, b, { seed: 3, projections: 16 })).toBe(s1);
    expect(slicedWasserstein(a, b, { seed: 4, projections: 16 })).not.toBe(s1);
    expect(() => slicedWasserstein(a, b, { projections: 0 })).toThrowError(/options.projections must be an integer >= 1, got 0/);
    expect(() => slicedWasserstein(a, b, { p: 0.5 })).toThrowError(/options.p/);
    expect(() => slicedWasserstein(a, [[1, 2]])).toThrowError(/y must be features of dimension 3/);
    expect(() => randomDirections(0, 2)).toThrowError(/count/);
    tf.dispose([a, b]);
  });
});
