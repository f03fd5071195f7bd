import * as tf from '@tensorflow/tfjs';
import { cmIndexSigma, sigmaTransport, validate } from '@fewstep/core';
import { clipDenoised } from './karras';
import { defineSampler } from './sampler';
import type { Modifier, Sampler, StepRule } from './types';

/**
 * Consistency multistep sampling: jump to the data estimate x0 = f(x, t), then re-noise it to the
 * next level. In UCGM terms this is the first-order step with stochasticity 1 (zHat replaced by
 * fresh noise). The two references differ only in the re-noising scale:
 *
 * - 'cm'  (OpenAI stochastic_iterative_sampler): x = x0 + sqrt(tNext^2 - sigmaMin^2) eps, tNext
 *   clipped to [sigmaMin, sigmaMax]; a draw is made on every step, also the last (factor 0).
 * - 'ect' (ECT ct_eval generator_fn): x = x0 + tNext eps, and no draw when tNext = 0.
 */
export function consistencyStep(renoise: 'cm' | 'ect', opts: { sigmaMin?: number; sigmaMax?: number } = {}): StepRule {
  const check = validate('consistencyStep');
  check.oneOf('renoise', renoise, ['cm', 'ect'] as const);
  const sigmaMin = check.finite('sigmaMin', opts.sigmaMin ?? 0.002, { min: 0 });
  const sigmaMax = check.number('sigmaMax', opts.sigmaMax ?? Infinity, { gt: sigmaMin });
  return {
    name: `consistency-${renoise}`,
    step(x, ctx) {
      const { xHat, zHat } = ctx.predict(x, ctx.t, ctx.networkOptions);
      let scale: number;
      if (renoise === 'cm') {
        const next = Math.min(Math.max(ctx.tNext, sigmaMin), sigmaMax);
        // The grid holds float32 values: sigma(N-1; N) is sigmaMin rounded, which must give factor 0.
        scale = Math.fround(next) <= Math.fround(sigmaMin) ? 0 : Math.sqrt(next * next - sigmaMin * sigmaMin);
      } else {
        if (!(ctx.tNext > 0)) return { x: xHat.clone(), xHat, zHat };
        scale = ctx.tNext;
      }
      const eps = ctx.noise.normal(x.shape);
      return { x: tf.add(xHat, tf.mul(eps, scale)), xHat, zHat };
    },
  };
}

function consistencySampler(
  name: string,
  grid: number[],
  rule: StepRule,
  modifiers: readonly Modifier[],
  finish?: (o: tf.Tensor) => tf.Tensor,
  startSigma = grid[0],
): Sampler {
  const start = (latents: tf.Tensor) => tf.mul(latents, startSigma);
  return defineSampler({ name, transport: sigmaTransport(), grid, rule, modifiers, parameterisation: 'x0', finish, start });
}

export interface CmMultistepOptions {
  /** Increasing indices into the `steps`-point training grid, e.g. [0, 22, 39] (ImageNet-64 CD). */
  ts: readonly number[];
  /** Size N of the index grid sigma(i; N) (default 40). */
  steps?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  /** Clamp each x0 to [-1, 1] and the result (default true, as karras_sample). */
  clipDenoised?: boolean;
  modifiers?: Modifier[];
}

/** The sigmas of CM multistep indices: sigma(ts[i]; steps) on the Karras index grid. */
export function cmIndexGrid(ts: readonly number[], steps: number, opts: { sigmaMin?: number; sigmaMax?: number; rho?: number } = {}): number[] {
  const check = validate('cmIndexGrid');
  const N = check.integer('steps', steps, { min: 2 });
  const idx = check.numbers('ts', ts as number[], { minLength: 2 });
  idx.forEach((v, i) => {
    check.integer(`ts[${i}]`, v, { min: 0, max: N - 1 });
    if (i > 0 && !(v > idx[i - 1])) check.fail(`ts[${i}]`, `strictly increasing (previous ${idx[i - 1]})`, v);
  });
  return idx.map((i) => cmIndexSigma(i, N, opts));
}

/**
 * OpenAI CM's multistep sampler (karras_sample with sampler='multistep', i.e.
 * stochastic_iterative_sampler): len(ts) - 1 network calls, re-noising with sqrt(t^2 - sigmaMin^2).
 * Start x_T = latents * sigmaMax; the network is the consistency function f (parameterisation 'x0').
 */
export function cmMultistepSampler(opts: CmMultistepOptions): Sampler {
  const check = validate('cmMultistepSampler');
  if (!opts || typeof opts !== 'object') check.fail('opts', 'an options object with ts', opts);
  const steps = opts.steps ?? 40;
  const sigmaMin = opts.sigmaMin ?? 0.002;
  const sigmaMax = opts.sigmaMax ?? 80;
  const grid = cmIndexGrid(opts.ts, steps, { sigmaMin, sigmaMax, rho: opts.rho });
  const clip = opts.clipDenoised ?? true;
  const modifiers = [...(opts.modifiers ?? []), ...(clip ? [clipDenoised()] : [])];
  const finish = clip ? (o: tf.Tensor) => tf.clipByValue(o, -1, 1) : undefined;
  // x_T = latents * sigmaMax even when ts[0] > 0, as the reference does.
  return consistencySampler('cm-multistep', grid, consistencyStep('cm', { sigmaMin, sigmaMax }), modifiers, finish, sigmaMax);
}

export interface EctMultistepOptions {
  /** Start noise level (default 80). */
  tMax?: number;
  /** Intermediate levels (default [0.821], ECT's 2-step CIFAR-10 setting; [] gives one step). */
  midT?: readonly number[];
  modifiers?: Modifier[];
}

/**
 * ECT's few-step sampler (locuslab/ect ct_eval.py generator_fn): grid [tMax, ...midT, 0],
 * x = latents * tMax, x = f(x, t) then x += tNext * eps while tNext > 0. No clamping.
 */
export function ectMultistepSampler(opts: EctMultistepOptions = {}): Sampler {
  const check = validate('ectMultistepSampler');
  const tMax = check.finite('tMax', opts.tMax ?? 80, { gt: 0 });
  const mid = check.numbers('midT', (opts.midT ?? [0.821]) as number[], { gt: 0 });
  return consistencySampler('ect-multistep', [tMax, ...mid, 0], consistencyStep('ect'), opts.modifiers ?? []);
}

export interface OneStepOptions {
  sigmaMax?: number;
  /** Clamp the output to [-1, 1] (OpenAI karras_sample 'onestep' does; default false). */
  clipDenoised?: boolean;
  modifiers?: Modifier[];
}

/** One-step generation x = f(latents * sigmaMax, sigmaMax): one network call, no draws after the latents. */
export function oneStepSampler(opts: OneStepOptions = {}): Sampler {
  const check = validate('oneStepSampler');
  const sigmaMax = check.finite('sigmaMax', opts.sigmaMax ?? 80, { gt: 0 });
  const clip = opts.clipDenoised ?? false;
  const modifiers = [...(opts.modifiers ?? []), ...(clip ? [clipDenoised()] : [])];
  const finish = clip ? (o: tf.Tensor) => tf.clipByValue(o, -1, 1) : undefined;
  return consistencySampler('one-step', [sigmaMax, 0], consistencyStep('ect'), modifiers, finish);
}
