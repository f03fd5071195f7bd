import * as tf from '@tensorflow/tfjs';
import { unifiedTimeGrid, validate, type Transport } from '@fewstep/core';
import { defineSampler } from './sampler';
import type { Modifier, Sampler, StepRule } from './types';

export interface UcgmStepOptions {
  /** 1: DDIM/Euler step; 2: adds the Heun corrector (one more network call). Default 1. */
  order?: 1 | 2;
  /** Extrapolation ratio r: from the third step on, xHat += r (xHat - previous raw xHat), same for zHat. Default 0. */
  extrapolation?: number;
  /**
   * Stochasticity s in [0, 1]: zHat' = sqrt(1 - s) zHat + sqrt(s) eps (0 = DDIM / Euler, 1 = consistency
   * multistep). 'auto': s = clamp(2 |dt| alphaIn(t) / alphaIn(tNext)^2, 0, 1) computed at the first step and,
   * as in the reference, reused for every later step (see `autoEvery`). Default 0.
   */
  stochasticity?: number | 'auto';
  /**
   * 'first-step' (default, the reference's quirk): 'auto' is computed once and reused.
   * 'every-step': the clean variant, recomputed from each step's (t, tNext).
   */
  autoEvery?: 'first-step' | 'every-step';
  /**
   * Index from which the order-2 corrector stops (UCGM's N_lin - 1): corrections run at steps i < this.
   * Default: every step except the last.
   */
  correctBefore?: number;
}

/**
 * UCGM-S's step (LINs-lab/UCGM unigen.py uni_sample), in any transport:
 * x_next = gammaIn(t') xHat + alphaIn(t') (sqrt(1-s) zHat + sqrt(s) eps), with a normal draw at
 * every step (also when s = 0, as the reference), optional extrapolation of the estimates and an
 * optional Heun corrector x_next = x gammaIn(t')/gammaIn(t) + (alphaIn(t') - gammaIn(t') alphaIn(t)/gammaIn(t)) (zHat + zHat(x_next, t'))/2.
 */
export function ucgmStep(opts: UcgmStepOptions = {}): StepRule {
  const check = validate('ucgmStep');
  const order = check.integer('order', opts.order ?? 1, { min: 1, max: 2 });
  const r = check.finite('extrapolation', opts.extrapolation ?? 0, { min: 0 });
  const stoch = opts.stochasticity ?? 0;
  if (stoch !== 'auto') check.finite('stochasticity', stoch, { min: 0, max: 1 });
  const autoEvery = check.oneOf('autoEvery', opts.autoEvery ?? 'first-step', ['first-step', 'every-step'] as const);
  const correctBefore = opts.correctBefore;
  if (correctBefore !== undefined) check.integer('correctBefore', correctBefore, { min: 0 });
  return {
    name: `ucgm-o${order}`,
    step(x, ctx, state) {
      const { transport: T, t, tNext, index, predict, networkOptions } = ctx;
      const raw = predict(x, t, networkOptions);
      let { xHat, zHat } = raw;
      if (r > 0) {
        const px = state.get('xHat');
        const pz = state.get('zHat');
        // The reference's buffer acts from the third step on (i > 1), against the previous raw estimate.
        if (index > 1 && px && pz) {
          xHat = tf.add(xHat, tf.mul(tf.sub(xHat, px), r));
          zHat = tf.add(zHat, tf.mul(tf.sub(zHat, pz), r));
        }
        state.set('xHat', raw.xHat.clone());
        state.set('zHat', raw.zHat.clone());
      }
      const s = stochasticityAt(stoch, T, t, tNext, autoEvery === 'first-step' ? state : undefined);
      const eps = ctx.noise.normal(x.shape);
      const mixed = tf.add(tf.mul(zHat, Math.sqrt(1 - s)), tf.mul(eps, Math.sqrt(s)));
      let xNext = tf.add(tf.mul(xHat, T.gammaIn(tNext)), tf.mul(mixed, T.alphaIn(tNext)));
      const limit = correctBefore ?? ctx.steps - 1;
      if (order === 2 && index < limit) {
        const zPri = predict(xNext, tNext, networkOptions).zHat;
        const gCur = T.gammaIn(t);
        const gNext = T.gammaIn(tNext);
        const coef = T.alphaIn(tNext) - (gNext * T.alphaIn(t)) / gCur;
        xNext = tf.add(tf.mul(x, gNext / gCur), tf.mul(tf.add(tf.mul(zHat, 0.5), tf.mul(zPri, 0.5)), coef));
      }
      return { x: xNext, xHat: raw.xHat, zHat: raw.zHat };
    },
  };
}

type NumberState = { getNumber(k: string): number | undefined; setNumber(k: string, v: number): void };

/** 'auto': s = clamp(2 |dt| alphaIn(t) / alphaIn(tNext)^2, 0, 1) in float32; cached in `state` when given. */
function stochasticityAt(s: number | 'auto', T: Transport, t: number, tNext: number, state?: NumberState): number {
  if (s !== 'auto') return s;
  const stored = state?.getNumber('stochasticity');
  if (stored !== undefined) return stored; // the reference's quirk: the first step's value is reused
  const f = Math.fround;
  const ratio = f(f(Math.sqrt(Math.abs(tNext - t)) * f(Math.sqrt(2 * T.alphaIn(t)))) / T.alphaIn(tNext));
  const value = Number.isNaN(ratio) ? 1 : Math.min(1, Math.max(0, ratio * ratio));
  state?.setNumber('stochasticity', value);
  return value;
}

export interface UcgmSamplerOptions extends Omit<UcgmStepOptions, 'correctBefore'> {
  transport: Transport;
  /** UCGM's sampling_steps S: N = S outer steps for order 1, ceil(S / 2) for order 2. Default 35. */
  steps?: number;
  /** Kumaraswamy time warp [a, b, c] (default [1, 1, 1] = none; UCGM recommends [1.17, 0.8, 1.1]). */
  kumaraswamy?: [number, number, number];
  /** [start gap, end gap] (default [0.001, 0.001]). */
  gaps?: [number, number];
  modifiers?: Modifier[];
}

/**
 * UCGM-S (unigen:uni_sample): the unified sampler for any transport and a 'native' network.
 * Starts from the latents themselves (x = z) and returns the last data estimate xHat; the
 * events' xHat are the reference's returned `samples` (after the initial noise).
 */
export function ucgmSampler(opts: UcgmSamplerOptions): Sampler {
  const check = validate('ucgmSampler');
  if (!opts?.transport || typeof opts.transport.alphaIn !== 'function') check.fail('transport', 'a Transport', opts?.transport);
  const S = check.integer('steps', opts.steps ?? 35, { min: 1 });
  const order = check.integer('order', opts.order ?? 1, { min: 1, max: 2 }) as 1 | 2;
  const N = order === 2 ? Math.floor((S + 1) / 2) : S;
  const { times, linearCount } = unifiedTimeGrid({
    steps: N,
    kumaraswamy: opts.kumaraswamy,
    gaps: opts.gaps ?? [0.001, 0.001],
    integrationStart: opts.transport.integrationStart,
  });
  return defineSampler({
    name: `ucgm-o${order}`,
    transport: opts.transport,
    grid: times,
    rule: ucgmStep({ ...opts, order, correctBefore: linearCount - 1 }),
    modifiers: opts.modifiers,
    parameterisation: 'native',
    start: (latents) => latents.clone(),
    output: 'xHat',
    monotone: 'except-last',
  });
}
