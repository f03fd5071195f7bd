import * as tf from '@tensorflow/tfjs';
import { validate, type Validator } from './errors';
import { rhoRoots } from './grids';

/** Discrete-time curricula of consistency training, as pure functions of the training step. */

export interface CmCurriculumOptions {
  /** 'fixed': mu = startEma; 'adaptive': mu(k) = exp(s0 ln(mu0) / n(k)). */
  targetEmaMode?: 'fixed' | 'adaptive';
  /** 'fixed': N = startScales; 'progressive': N grows with the step. */
  scaleMode?: 'fixed' | 'progressive';
  startEma?: number;
  startScales?: number;
  endScales?: number;
  totalSteps?: number;
}

/**
 * OpenAI CM's curricula (create_ema_and_scales_fn): the target-EMA rate mu(k) and the number of
 * discretisation points N(k) at step k.
 */
export function cmCurriculum(opts: CmCurriculumOptions = {}): (step: number) => { targetEma: number; numScales: number } {
  const check = validate('cmCurriculum');
  const emaMode = check.oneOf('targetEmaMode', opts.targetEmaMode ?? 'fixed', ['fixed', 'adaptive'] as const);
  const scaleMode = check.oneOf('scaleMode', opts.scaleMode ?? 'fixed', ['fixed', 'progressive'] as const);
  const mu0 = check.finite('startEma', opts.startEma ?? 0, { min: 0, lt: 1 });
  const s0 = check.integer('startScales', opts.startScales ?? 40, { min: 2 });
  const s1 = check.integer('endScales', opts.endScales ?? 40, { min: s0 });
  const K = check.integer('totalSteps', opts.totalSteps ?? 600000, { min: 1 });
  if (emaMode === 'adaptive' && scaleMode === 'fixed') {
    check.fail('targetEmaMode', '"fixed" when scaleMode is "fixed" (the reference has no adaptive/fixed pair)', emaMode);
  }
  return (step: number) => {
    validate('cmCurriculum').integer('step', step, { min: 0 });
    if (scaleMode === 'fixed') return { targetEma: mu0, numScales: s0 };
    const n = Math.max(Math.ceil(Math.sqrt((step / K) * ((s1 + 1) ** 2 - s0 ** 2) + s0 ** 2) - 1), 1);
    const targetEma = emaMode === 'adaptive' ? Math.exp((s0 * Math.log(mu0)) / n) : mu0;
    return { targetEma, numScales: n + 1 };
  };
}

/** iCT's exponential curriculum: N(k) = min(s0 2^floor(k/K'), s1) + 1, K' = floor(K / (log2 floor(s1/s0) + 1)). */
export function ictNumScales(step: number, opts: { totalSteps?: number; s0?: number; s1?: number } = {}): number {
  const check = validate('ictNumScales');
  check.integer('step', step, { min: 0 });
  const K = check.integer('totalSteps', opts.totalSteps ?? 400000, { min: 1 });
  const s0 = check.integer('s0', opts.s0 ?? 10, { min: 1 });
  const s1 = check.integer('s1', opts.s1 ?? 1280, { min: s0 });
  const kPrime = Math.floor(K / (Math.log2(Math.floor(s1 / s0)) + 1));
  return Math.min(s0 * 2 ** Math.floor(step / Math.max(kPrime, 1)), s1) + 1;
}

/** iCT's ascending Karras grid of N points from sigmaMin to sigmaMax (float32-rounded). */
export function ictSigmas(N: number, opts: { sigmaMin?: number; sigmaMax?: number; rho?: number } = {}): number[] {
  const check = validate('ictSigmas');
  check.size('N', N, 2);
  const { sigmaMin = 0.002, sigmaMax = 80, rho = 7 } = opts;
  check.finite('sigmaMin', sigmaMin, { gt: 0, lt: sigmaMax });
  check.finite('sigmaMax', sigmaMax, { gt: 0 });
  const { lo, hi } = rhoRoots('ictSigmas', sigmaMin, sigmaMax, rho);
  return Array.from({ length: N }, (_, i) => Math.fround((lo + (i / (N - 1)) * (hi - lo)) ** rho));
}

/** erf on doubles (Abramowitz-Stegun 7.1.26 is too coarse; this uses a series / continued fraction, ~1e-15). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)).
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc (Lentz), converges fast for |x| >= 2.5.
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/**
 * iCT's discrete log-normal probabilities over the N-1 intervals of an ascending grid:
 * p(i) ~ erf((ln s_{i+1} - pMean)/(sqrt2 pStd)) - erf((ln s_i - pMean)/(sqrt2 pStd)), normalised.
 */
export function ictIndexProbabilities(sigmas: readonly number[], opts: { pMean?: number; pStd?: number } = {}): number[] {
  const check = validate('ictIndexProbabilities');
  const s = check.numbers('sigmas', sigmas as number[], { minLength: 2, gt: 0 });
  const pMean = check.finite('pMean', opts.pMean ?? -1.1);
  const pStd = check.finite('pStd', opts.pStd ?? 2.0, { gt: 0 });
  checkAscending(check, s);
  const cdf = s.map((v) => erf((Math.log(v) - pMean) / (Math.SQRT2 * pStd)));
  const p = cdf.slice(1).map((c, i) => c - cdf[i]);
  const total = p.reduce((a, b) => a + b, 0);
  // Far in a tail every interval's mass underflows to 0: normalising would give NaN.
  check.check(total > 0, 'sigmas', `a grid holding some log-normal mass (pMean=${pMean}, pStd=${pStd})`, sigmas);
  return p.map((v) => v / total);
}

function checkAscending(check: Validator, s: number[]): void {
  check.check(s.every((v, i) => i === 0 || v > s[i - 1]!), 'sigmas', 'a strictly ascending grid', s);
}

/** iCT's weighting lambda(sigma_i) = 1 / (sigma_{i+1} - sigma_i) over an ascending grid. */
export function ictWeights(sigmas: readonly number[]): number[] {
  const check = validate('ictWeights');
  const s = check.numbers('sigmas', sigmas as number[], { minLength: 2 });
  checkAscending(check, s);
  return s.slice(1).map((v, i) => 1 / (v - s[i]));
}

export interface EctMappingOptions {
  /** 'sigmoid' (ECT default) or 'const'. */
  mapping?: 'sigmoid' | 'const';
  q?: number;
  k?: number;
  b?: number;
}

/** ECT's ratio 1 - 1/q^(stage+1) (the logged value; the const mapping uses it directly). */
export function ectRatio(stage: number, q = 2): number {
  const check = validate('ectRatio');
  check.integer('stage', stage, { min: 0 });
  check.finite('q', q, { gt: 1 });
  return 1 - 1 / q ** (stage + 1);
}

/**
 * ECT's t -> r mapping at a stage: const r = t (1 - 1/q^(s+1)); sigmoid
 * r = t (1 - (1/q^(s+1)) (1 + k sigmoid(-b t))); both clamped at 0. Works on numbers and tensors.
 */
export function ectTToR(t: number, stage: number, opts?: EctMappingOptions): number;
export function ectTToR(t: tf.Tensor, stage: number, opts?: EctMappingOptions): tf.Tensor;
export function ectTToR(t: number | tf.Tensor, stage: number, opts: EctMappingOptions = {}): number | tf.Tensor {
  const check = validate('ectTToR');
  const mapping = check.oneOf('mapping', opts.mapping ?? 'sigmoid', ['sigmoid', 'const'] as const);
  const q = check.finite('q', opts.q ?? 2, { gt: 1 });
  const k = check.finite('k', opts.k ?? 8);
  const b = check.finite('b', opts.b ?? 1);
  check.integer('stage', stage, { min: 0 });
  const decay = 1 / q ** (stage + 1);
  if (typeof t === 'number') {
    check.finite('t', t, { min: 0 });
    const factor = mapping === 'const' ? 1 - decay : 1 - decay * (1 + k / (1 + Math.exp(b * t)));
    return Math.max(t * factor, 0);
  }
  check.tensor('t', t);
  return tf.tidy(() => {
    const factor = mapping === 'const' ? tf.scalar(1 - decay) : tf.sub(1, tf.mul(tf.add(1, tf.mul(tf.sigmoid(tf.mul(t, -b)), k)), decay));
    return tf.relu(tf.mul(t, factor));
  });
}

/**
 * ECT's stage at (0-based) iteration k, from its training loop (resume_tick = 0): with
 * P = ceil(kimgPerTick * 1000 / batchSize) iterations per tick and S = P * doubleTicks,
 * stage 0 for k <= S, then floor((k - 1) / S). (Tick 0 always ends after the first iteration.)
 */
export function ectStage(iteration: number, opts: { batchSize: number; kimgPerTick: number; doubleTicks: number }): number {
  const check = validate('ectStage');
  check.integer('iteration', iteration, { min: 0 });
  const batch = check.integer('batchSize', opts?.batchSize, { min: 1 });
  const kimg = check.finite('kimgPerTick', opts.kimgPerTick, { gt: 0 });
  const double = check.integer('doubleTicks', opts.doubleTicks, { min: 1 });
  const S = Math.ceil((kimg * 1000) / batch) * double;
  return iteration <= S ? 0 : Math.floor((iteration - 1) / S);
}

/** Python's round(): half to even ("banker's rounding"), which the references rely on. */
export function roundHalfEven(x: number): number {
  validate('roundHalfEven').finite('x', x);
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
