import { validate } from './errors';

/**
 * Time and noise-level grids, computed in JS doubles and rounded once to float32 (what a tensor
 * would hold), so every backend sees identical values. Independent of any sampler.
 */

const f32 = Math.fround;

function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + ((b - a) * i) / (n - 1)));
}

export interface KarrasOptions {
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  /** Append a final 0 (k-diffusion, CM and EDM samplers do). Default true. */
  appendZero?: boolean;
}

function checkSigmaRange(where: string, sigmaMin: number, sigmaMax: number): void {
  const check = validate(where);
  check.finite('sigmaMin', sigmaMin, { gt: 0 });
  check.finite('sigmaMax', sigmaMax, { gt: 0 });
  if (!(sigmaMin < sigmaMax)) check.fail('sigmaMin', `< sigmaMax (${sigmaMax})`, sigmaMin);
}

/**
 * sigma^(1/rho) for both ends, finite and distinct: a tiny rho overflows or underflows float64
 * (80^(1/0.002) = Infinity). With `float32`, the roots must also fit float32, for grids computed
 * on the device (80^(1/0.04) overflows there).
 */
export function rhoRoots(where: string, sigmaMin: number, sigmaMax: number, rho: number, opts: { float32?: boolean } = {}): { lo: number; hi: number } {
  const check = validate(where);
  check.finite('rho', rho, { gt: 0 });
  const round = opts.float32 ? Math.fround : (v: number) => v;
  const hi = round(sigmaMax ** (1 / rho));
  const lo = round(sigmaMin ** (1 / rho));
  // Underflow to 0 (0.002^(1/0.002)) collapses the grid onto sigma = 0 just as badly.
  if (!Number.isFinite(hi) || !Number.isFinite(lo) || !(lo > 0) || !(hi > lo)) {
    const range = opts.float32 ? 'finite and positive in float32' : 'finite and positive';
    check.fail('rho', `large enough that sigma^(1/rho) stays ${range} for sigma in [${sigmaMin}, ${sigmaMax}]`, rho);
  }
  return { lo, hi };
}

/**
 * Karras et al. (2022) rho schedule, descending from sigmaMax to sigmaMin over n points:
 * sigma_i = (sigmaMax^(1/rho) + i/(n-1) (sigmaMin^(1/rho) - sigmaMax^(1/rho)))^rho, then 0.
 */
export function karrasSigmas(n: number, opts: KarrasOptions = {}): number[] {
  const check = validate('karrasSigmas');
  check.size('n', n, 1);
  const { sigmaMin = 0.002, sigmaMax = 80, rho = 7, appendZero = true } = opts;
  checkSigmaRange('karrasSigmas', sigmaMin, sigmaMax);
  const { lo, hi } = rhoRoots('karrasSigmas', sigmaMin, sigmaMax, rho);
  // (1 - r) hi + r lo rather than hi + r (lo - hi): exact at both ends, even for small rho.
  const sigmas = linspace(0, 1, n).map((r) => f32(((1 - r) * hi + r * lo) ** rho));
  return appendZero ? [...sigmas, 0] : sigmas;
}

/** k-diffusion's exponential grid: exp(linspace(ln sigmaMax, ln sigmaMin, n)), then 0. */
export function exponentialSigmas(n: number, opts: Omit<KarrasOptions, 'rho'> = {}): number[] {
  const check = validate('exponentialSigmas');
  check.size('n', n, 1);
  const { sigmaMin = 0.002, sigmaMax = 80, appendZero = true } = opts;
  checkSigmaRange('exponentialSigmas', sigmaMin, sigmaMax);
  const sigmas = linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map((l) => f32(Math.exp(l)));
  return appendZero ? [...sigmas, 0] : sigmas;
}

/** n evenly spaced times from start to end inclusive. */
export function uniformTimes(n: number, start = 1, end = 0): number[] {
  const check = validate('uniformTimes');
  check.size('n', n, 1);
  check.finite('start', start);
  check.finite('end', end);
  return linspace(start, end, n).map(f32);
}

/** sigma(i; N) of the CM training / multistep grid: index 0 is sigmaMax, N-1 is sigmaMin. */
export function cmIndexSigma(i: number, N: number, opts: Omit<KarrasOptions, 'appendZero'> = {}): number {
  const check = validate('cmIndexSigma');
  check.size('N', N, 2);
  check.integer('i', i, { min: 0, max: N - 1 });
  const { sigmaMin = 0.002, sigmaMax = 80, rho = 7 } = opts;
  checkSigmaRange('cmIndexSigma', sigmaMin, sigmaMax);
  const { lo, hi } = rhoRoots('cmIndexSigma', sigmaMin, sigmaMax, rho);
  const r = i / (N - 1);
  return f32(((1 - r) * hi + r * lo) ** rho);
}

/** The Kumaraswamy warp of UCGM's time grid: t -> (1 - (1 - t^a)^b)^c. */
export function kumaraswamy(t: number, a: number, b: number, c: number): number {
  const check = validate('kumaraswamy');
  check.finite('t', t, { min: 0, max: 1 });
  check.finite('a', a, { gt: 0 });
  check.finite('b', b, { gt: 0 });
  check.finite('c', c, { gt: 0 });
  return (1 - (1 - t ** a) ** b) ** c;
}

export interface UnifiedGridOptions {
  /** Number of outer steps N (for order 2, UCGM uses N = ceil(steps / 2) outer steps). */
  steps: number;
  /** Kumaraswamy parameters [a, b, c]; [1, 1, 1] is the identity. */
  kumaraswamy?: [number, number, number];
  /** UCGM's rfba gaps [start gap, end gap]. */
  gaps?: [number, number];
  /** 1 if t = 0 is data (integrate 1 -> 0), 0 if t = 0 is noise. */
  integrationStart: 0 | 1;
}

/**
 * UCGM-S's time grid (unigen:uni_sample): linspace(g0, 1, N+1) without its end if g1 = 0, else
 * linspace(g0, 1 - g1, N); Kumaraswamy-warped; reversed when t = 0 is data; a final 0 appended.
 * Returns N + 1 times (N intervals) and `linearCount` (N_lin), which the order-2 rule uses.
 */
export function unifiedTimeGrid(opts: UnifiedGridOptions): { times: number[]; linearCount: number } {
  const check = validate('unifiedTimeGrid');
  const N = check.size('steps', opts?.steps, 1);
  const [a, b, c] = check.numbers('kumaraswamy', opts.kumaraswamy ?? [1, 1, 1], { length: 3, gt: 0 });
  const [g0, g1] = check.numbers('gaps', opts.gaps ?? [0, 0], { length: 2, min: 0, lt: 1 });
  check.check(g0 + g1 < 1, 'gaps', 'gaps whose sum is < 1', opts.gaps);
  const start = check.integer('integrationStart', opts.integrationStart, { min: 0, max: 1 });
  const linearCount = g1 === 0 ? N + 1 : N;
  let T = g1 === 0 ? linspace(g0, 1, N + 1).slice(0, -1) : linspace(g0, 1 - g1, N);
  // linspace is cast to float32 first, as the reference does, then warped.
  T = T.map((t) => kumaraswamy(f32(t), a, b, c));
  if (start === 1) T = T.map((t) => 1 - t);
  return { times: [...T.map(f32), 0], linearCount };
}

/**
 * An explicit grid, validated: finite, strictly monotone in `direction`, non-negative.
 */
export function explicitGrid(values: readonly number[], direction: 'descending' | 'ascending' = 'descending'): number[] {
  const check = validate('explicitGrid');
  const v = check.numbers('values', values as number[], { minLength: 2, min: 0 });
  check.oneOf('direction', direction, ['descending', 'ascending'] as const);
  for (let i = 1; i < v.length; i++) {
    const ok = direction === 'descending' ? v[i] < v[i - 1] : v[i] > v[i - 1];
    if (!ok) check.fail(`values[${i}]`, `strictly ${direction} (previous ${v[i - 1]})`, v[i]);
  }
  return v.map(f32);
}
