import * as tf from '@tensorflow/tfjs';
import { karrasSigmas, sigmaTransport, validate } from '@fewstep/core';
import { defineSampler } from './sampler';
import { mapDataEstimate } from './estimator';
import type { Modifier, Sampler, StepRule } from './types';

/**
 * Samplers in EDM's sigma space (x_sigma = x + sigma z), where the model's data estimate is the
 * denoiser D(x; sigma) and its noise estimate is the PF-ODE slope d = (x - D)/sigma: zHat is d.
 */

export type ChurnSolver = 'euler' | 'heun' | 'dpm2' | 'dpm2-cbrt';

export interface ChurnOptions {
  /** Total churn S_churn; per step gamma = min(S_churn / N, sqrt(2) - 1) inside [sTMin, sTMax]. Default 0. */
  sChurn?: number;
  sTMin?: number;
  sTMax?: number;
  /** Noise inflation S_noise. Default 1. */
  sNoise?: number;
  /**
   * 'every-step' (default): a normal draw at every step even when gamma = 0, as EDM's edm_sampler
   * and k-diffusion do (needed to replay their noise). 'none': no draws (needs sChurn = 0), as
   * OpenAI CM's plain sample_euler. 'when-churning': the clean variant, a draw only where gamma > 0
   * (same samples in distribution, not replayable against the references).
   */
  draws?: 'every-step' | 'when-churning' | 'none';
}

const SQRT2_MINUS_1 = Math.SQRT2 - 1;

function churnParams(where: string, opts: ChurnOptions) {
  const check = validate(where);
  const sChurn = check.finite('sChurn', opts.sChurn ?? 0, { min: 0 });
  const sTMin = check.number('sTMin', opts.sTMin ?? 0, { min: 0 });
  const sTMax = check.number('sTMax', opts.sTMax ?? Infinity, { min: sTMin });
  const sNoise = check.finite('sNoise', opts.sNoise ?? 1, { min: 0 });
  const draws = check.oneOf('draws', opts.draws ?? 'every-step', ['every-step', 'when-churning', 'none'] as const);
  if (draws === 'none' && sChurn > 0) check.fail('draws', '"every-step" when sChurn > 0', draws);
  return { sChurn, sTMin, sTMax, sNoise, draws };
}

/** The midpoint of the DPM-2 step: geometric (k-diffusion) or cube-root mean (OpenAI CM, also on the last step). */
function midpoint(solver: 'dpm2' | 'dpm2-cbrt', sigmaHat: number, sigmaNext: number): number {
  if (solver === 'dpm2') return Math.exp((Math.log(sigmaHat) + Math.log(sigmaNext)) / 2);
  return ((Math.cbrt(sigmaHat) + Math.cbrt(sigmaNext)) / 2) ** 3;
}

/**
 * Karras et al. (2022) Algorithm 2 step with churn: raise sigma to sigmaHat = sigma (1 + gamma) with
 * fresh noise, then an Euler, Heun or DPM-2 step to sigmaNext. Heun and 'dpm2' fall back to Euler
 * when sigmaNext = 0; 'dpm2-cbrt' (OpenAI CM's sample_dpm) does not.
 */
export function churnStep(solver: ChurnSolver, opts: ChurnOptions = {}): StepRule {
  const where = 'churnStep';
  validate(where).oneOf('solver', solver, ['euler', 'heun', 'dpm2', 'dpm2-cbrt'] as const);
  const p = churnParams(where, opts);
  return {
    name: `${solver}-churn`,
    step(x, ctx) {
      const { t: sigma, tNext, steps, predict, networkOptions } = ctx;
      const gamma = p.sTMin <= sigma && sigma <= p.sTMax ? Math.min(p.sChurn / steps, SQRT2_MINUS_1) : 0;
      const sigmaHat = sigma * (gamma + 1);
      let xh = x;
      if (p.draws === 'every-step' || (p.draws === 'when-churning' && gamma > 0)) {
        const eps = ctx.noise.normal(x.shape);
        if (gamma > 0) xh = tf.add(x, tf.mul(eps, p.sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2)));
      }
      const first = predict(xh, sigmaHat, networkOptions);
      const d = first.zHat;
      const dt = tNext - sigmaHat;
      let xNext: tf.Tensor;
      if (solver === 'euler' || (tNext === 0 && solver !== 'dpm2-cbrt')) {
        xNext = tf.add(xh, tf.mul(d, dt));
      } else if (solver === 'heun') {
        const x2 = tf.add(xh, tf.mul(d, dt));
        const d2 = predict(x2, tNext, networkOptions).zHat;
        xNext = tf.add(xh, tf.mul(tf.div(tf.add(d, d2), 2), dt));
      } else {
        const mid = midpoint(solver, sigmaHat, tNext);
        const x2 = tf.add(xh, tf.mul(d, mid - sigmaHat));
        const d2 = predict(x2, mid, networkOptions).zHat;
        xNext = tf.add(xh, tf.mul(d2, dt));
      }
      return { x: xNext, xHat: first.xHat, zHat: first.zHat };
    },
  };
}

/**
 * DPM-Solver++(2M) (Lu et al. 2022; k-diffusion sample_dpmpp_2m): a second-order multistep rule in
 * lambda = -ln sigma that reuses the previous denoised estimate. Deterministic (no draws).
 */
export function dpmppTwoMStep(): StepRule {
  return {
    name: 'dpmpp-2m',
    step(x, ctx, state) {
      const { t: sigma, tNext, index, grid } = ctx;
      const { xHat: D, zHat } = ctx.predict(x, sigma, ctx.networkOptions);
      const lambda = -Math.log(sigma);
      const h = -Math.log(tNext) - lambda; // Infinity at sigmaNext = 0: expm1(-inf) = -1 gives x = D
      const old = state.get('denoised');
      let Dp: tf.Tensor = D;
      if (old && index > 0 && tNext > 0) {
        const r = (lambda + Math.log(grid[index - 1])) / h; // h_last / h
        Dp = tf.sub(tf.mul(D, 1 + 1 / (2 * r)), tf.mul(old, 1 / (2 * r)));
      }
      const xNext = tf.sub(tf.mul(x, tNext / sigma), tf.mul(Dp, Math.expm1(-h)));
      state.set('denoised', D.clone());
      return { x: xNext, xHat: D, zHat };
    },
  };
}

/** Clamps the data estimate to [lo, hi] (OpenAI CM's clip_denoised), recomputing zHat to match. */
export function clipDenoised(lo = -1, hi = 1): Modifier {
  const check = validate('clipDenoised');
  check.finite('lo', lo);
  check.finite('hi', hi, { gt: lo });
  return mapDataEstimate(`clip(${lo}, ${hi})`, (xHat) => tf.clipByValue(xHat, lo, hi));
}

export interface KarrasGridOptions {
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
}

export interface EdmSamplerOptions extends KarrasGridOptions, ChurnOptions {
  /** Number of steps N (default 18): 2N - 1 network evaluations for Heun, N for Euler. */
  steps?: number;
  /** 'heun' (edm_sampler, Algorithm 2) or 'euler' (ablation_sampler with solver='euler'). Default 'heun'. */
  solver?: 'heun' | 'euler';
  modifiers?: Modifier[];
}

function sigmaSampler(name: string, grid: number[], rule: StepRule, modifiers: readonly Modifier[] = [], finish?: (o: tf.Tensor) => tf.Tensor): Sampler {
  return defineSampler({ name, transport: sigmaTransport(), grid, rule, modifiers, parameterisation: 'x0', finish });
}

/**
 * EDM's stochastic sampler (NVlabs/edm generate.py edm_sampler; Euler: ablation_sampler). The
 * network is a denoiser D(x; sigma) (parameterisation 'x0'). Draws one normal per step, always.
 */
export function edmSampler(opts: EdmSamplerOptions = {}): Sampler {
  const check = validate('edmSampler');
  const steps = check.integer('steps', opts.steps ?? 18, { min: 1 });
  const solver = check.oneOf('solver', opts.solver ?? 'heun', ['heun', 'euler'] as const);
  const grid = karrasSigmas(steps, opts);
  // EDM draws every step (default), also where gamma = 0; 'when-churning' is the clean variant.
  const draws = opts.draws ?? 'every-step';
  if (draws === 'none') validate('edmSampler').fail('draws', '"every-step" or "when-churning"', draws);
  return sigmaSampler(`edm-${solver}`, grid, churnStep(solver, { ...opts, draws }), opts.modifiers);
}

export interface KDiffusionOptions extends ChurnOptions {
  /** The sigma grid (descending, usually ending in 0), e.g. karrasSigmas(n). */
  sigmas: readonly number[];
  modifiers?: Modifier[];
}

/**
 * k-diffusion's samplers (crowsonkb/k-diffusion sampling.py): 'euler', 'heun', 'dpm2' (with churn,
 * a draw every step) and 'dpmpp-2m' (deterministic). Start from `x = latents * sigmas[0]`.
 */
export function kdiffusionSampler(kind: 'euler' | 'heun' | 'dpm2' | 'dpmpp-2m', opts: KDiffusionOptions): Sampler {
  const check = validate('kdiffusionSampler');
  check.oneOf('kind', kind, ['euler', 'heun', 'dpm2', 'dpmpp-2m'] as const);
  const sigmas = check.numbers('sigmas', opts?.sigmas as number[], { minLength: 2, min: 0 });
  const rule = kind === 'dpmpp-2m' ? dpmppTwoMStep() : churnStep(kind, opts);
  return sigmaSampler(`kdiffusion-${kind}`, sigmas, rule, opts.modifiers);
}

export interface CmKarrasOptions extends KarrasGridOptions, ChurnOptions {
  /** Number of grid points (karras_sample's `steps`). */
  steps: number;
  /** Clamp every denoised estimate to [-1, 1] (default true, as karras_sample). */
  clipDenoised?: boolean;
  modifiers?: Modifier[];
}

const clampUnit = (o: tf.Tensor) => tf.clipByValue(o, -1, 1);

/**
 * OpenAI CM's karras_sample with a diffusion sampler: 'heun' (churn, a draw every step), 'dpm'
 * (cube-root midpoint, also on the last step; a draw every step) or 'euler' (plain, no draws).
 * x_T = latents * sigmaMax; denoised estimates clamped; the result clamped to [-1, 1].
 * For 'onestep' and 'multistep' see oneStepSampler / cmMultistepSampler.
 */
export function cmKarrasSampler(kind: 'heun' | 'dpm' | 'euler', opts: CmKarrasOptions): Sampler {
  const check = validate('cmKarrasSampler');
  check.oneOf('kind', kind, ['heun', 'dpm', 'euler'] as const);
  const steps = check.integer('steps', opts?.steps, { min: 1 });
  const grid = karrasSigmas(steps, opts);
  const rule =
    kind === 'euler'
      ? churnStep('euler', { draws: 'none' })
      : churnStep(kind === 'dpm' ? 'dpm2-cbrt' : 'heun', { ...opts, draws: 'every-step' });
  const clip = opts.clipDenoised ?? true;
  // User modifiers (e.g. guidance) act on the raw model; the clamp comes last, as in karras_sample.
  const modifiers = [...(opts.modifiers ?? []), ...(clip ? [clipDenoised()] : [])];
  return sigmaSampler(`cm-${kind}`, grid, rule, modifiers, clampUnit);
}
