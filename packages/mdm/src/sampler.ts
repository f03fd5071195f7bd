import * as tf from '@tensorflow/tfjs';
import { FewstepError, roundHalfEven, seededNoise, syncReadsAllowed, validate, type NetworkOptions, type NoiseSource } from '@fewstep/core';
import { x0FromPrediction, type MdmPrediction, type NestedSchedule } from './schedule';
import type { MultiResNetwork } from './unet';

export type MdmThreshold = 'clip' | 'none' | 'dynamic' | 'dynamic-if';

export interface NestedSamplerOptions {
  schedule: NestedSchedule;
  /** What the network predicts (default 'v'). */
  prediction?: MdmPrediction;
  /** Number of steps K (default n: every step). With K < n the steps are resampled. */
  steps?: number;
  /** Resample the time steps to K + 1 rounded points (default: true when steps < n). */
  resampleSteps?: boolean;
  /** DDIM eta: undefined/null = ancestral DDPM, 0 = deterministic DDIM, > 0 = stochastic DDIM. */
  eta?: number | null;
  /** x0 thresholding (default 'clip'). */
  threshold?: MdmThreshold;
}

export interface NestedSampleOptions {
  /** Shape [B, H, W, C] of the highest resolution; the start latents are drawn from `noise`. */
  shape?: number[];
  /** Or the start latents, one per resolution (not disposed). */
  latents?: tf.Tensor[];
  /** Every random draw (default seededNoise(0)). */
  noise?: NoiseSource;
  networkOptions?: NetworkOptions;
  signal?: AbortSignal;
}

/** One step of nested sampling. Tensors belong to the generator (disposed at the next step) unless kept. */
export interface NestedSamplerEvent {
  readonly index: number;
  readonly steps: number;
  /** Integer times: current t and next s. */
  readonly t: number;
  readonly tNext: number;
  /** The latents at s (one per resolution, highest first) and the thresholded x0 estimates. */
  readonly x: readonly tf.Tensor[];
  readonly xHat: readonly tf.Tensor[];
  readonly nfe: number;
  /** Caller-owned handles on x and xHat (same data, no copy). */
  keep(): { x: tf.Tensor[]; xHat: tf.Tensor[] };
}

/**
 * The integer time steps visited (`Sampler.set_timesteps`): n, n-1, ..., 0, or with resampling
 * round((0..K) (n+1)/(K+1)) reversed (numpy's round-half-to-even). The last entry is only a target.
 */
export function nestedTimesteps(n: number, steps = n, resample = steps < n): number[] {
  const check = validate('nestedTimesteps');
  check.integer('n', n, { min: 1 });
  check.integer('steps', steps, { min: 1, max: n });
  if (!resample) return Array.from({ length: n + 1 }, (_, i) => n - i);
  return Array.from({ length: steps + 1 }, (_, i) => roundHalfEven((i * (n + 1)) / (steps + 1))).reverse();
}

/** Per-sample linear-interpolated quantile (torch.quantile) of |x| over all but the batch axis: [B, 1, 1, 1]. */
function sampleQuantile(x: tf.Tensor, q: number): tf.Tensor {
  return tf.tidy(() => {
    const B = x.shape[0];
    const flat = tf.abs(x).reshape([B, -1]);
    const N = flat.shape[1] as number;
    const sorted = tf.neg(tf.topk(tf.neg(flat), N).values); // ascending
    const pos = q * (N - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, N - 1);
    const a = sorted.slice([0, lo], [B, 1]);
    const b = sorted.slice([0, hi], [B, 1]);
    return a.add(b.sub(a).mul(pos - lo)).reshape([B, 1, 1, 1]);
  });
}

/** The reference's x0 thresholding, applied to x0 * imageScale and divided back. */
export function thresholdX0(x0: tf.Tensor, kind: MdmThreshold, imageScale = 1): tf.Tensor {
  return tf.tidy(() => {
    if (kind === 'none') return x0.clone();
    const x = x0.mul(imageScale);
    if (kind === 'clip') return tf.clipByValue(x, -1, 1).div(imageScale);
    const [q, max] = kind === 'dynamic' ? [0.995, 100] : [0.95, 1.5];
    const s = tf.clipByValue(sampleQuantile(x, q), 1, max);
    return tf.div(tf.minimum(tf.maximum(x, tf.neg(s)), s), s).div(imageScale);
  });
}

interface StepCoefficients {
  g: number;
  gl: number;
}

/** One update x_t -> x_s of one resolution (`Sampler.get_prediction_xt_last`). */
function updateLatent(xt: tf.Tensor, x0: tf.Tensor, c: StepCoefficients, eta: number | null, noise: tf.Tensor | undefined): tf.Tensor {
  const { g, gl } = c;
  const alpha = g / gl;
  const beta = 1 - alpha;
  const betaTilde = (beta * (1 - gl)) / (1 - g);
  if (eta === null) {
    let xs = tf.add(tf.mul(x0, (beta * Math.sqrt(gl)) / (1 - g)), tf.mul(xt, (Math.sqrt(alpha) * (1 - gl)) / (1 - g)));
    if (noise) xs = xs.add(noise.mul(Math.sqrt(betaTilde)));
    return xs;
  }
  const eps = tf.div(tf.sub(xt, tf.mul(x0, Math.sqrt(g))), Math.sqrt(1 - g));
  if (eta === 0) return tf.add(tf.mul(x0, Math.sqrt(gl)), tf.mul(eps, Math.sqrt(1 - gl)));
  const bt = eta * eta * betaTilde;
  let xs = tf.add(tf.mul(x0, Math.sqrt(gl)), tf.mul(eps, Math.sqrt(Math.max(1 - gl - bt, 0))));
  if (noise) xs = xs.add(noise.mul(Math.sqrt(bt)));
  return xs;
}

function startLatents(where: string, schedule: NestedSchedule, opts: NestedSampleOptions, noise: NoiseSource): tf.Tensor[] {
  const check = validate(where);
  const R = schedule.numResolutions;
  if (opts.latents !== undefined) {
    if (!Array.isArray(opts.latents) || opts.latents.length !== R) check.fail('latents', `${R} tensors (one per resolution)`, opts.latents);
    opts.latents.forEach((l, k) => check.tensor(`latents[${k}]`, l, { rank: 4 }));
    const [B, H] = opts.latents[0].shape;
    opts.latents.forEach((l, k) => {
      const side = (H * schedule.scales[k]) / schedule.scales[0];
      if (l.shape[0] !== B || l.shape[1] !== side || l.shape[2] !== side) check.fail(`latents[${k}]`, `a tensor of shape [${B}, ${side}, ${side}, C] (scales [${schedule.scales}])`, l);
    });
    return opts.latents.map((l) => l.clone());
  }
  const shape = opts.shape;
  if (!Array.isArray(shape) || shape.length !== 4) return check.fail('shape', 'an NHWC shape [B, H, W, C] (or latents)', shape);
  shape.forEach((v, i) => check.integer(`shape[${i}]`, v, { min: 1 }));
  const [B, H, W, C] = shape;
  const top = schedule.scales[0];
  if (H % top !== 0 || W % top !== 0) check.fail('shape', `a height and width that are multiples of ${top} (scales [${schedule.scales}])`, shape);
  // The high resolution first, then one fresh draw per lower resolution, in order.
  return schedule.scales.map((s) => noise.normal([B, (H * s) / top, (W * s) / top, C]));
}

/**
 * Nested sampling over all resolutions at once (`NestedDiffusion.sample`): a generator of step
 * events whose return value is the final high-resolution sample (x_0 * image scale, clipped to
 * [-1, 1]; caller-owned). Draws: the start latents (highest first), then per step with t != 1
 * (and eta != 0) one normal per resolution.
 */
export function* nestedSampleSteps(network: MultiResNetwork, sampler: NestedSamplerOptions, opts: NestedSampleOptions = {}): Generator<NestedSamplerEvent, tf.Tensor, void> {
  const where = 'nestedSampleSteps';
  const check = validate(where);
  if (typeof network !== 'function') check.fail('network', 'a multi-resolution network', network);
  const schedule = sampler?.schedule;
  if (!schedule || !Array.isArray(schedule.table)) check.fail('sampler.schedule', 'a NestedSchedule', schedule);
  const prediction = check.oneOf('sampler.prediction', sampler.prediction ?? 'v', ['eps', 'v'] as const);
  const threshold = check.oneOf('sampler.threshold', sampler.threshold ?? 'clip', ['clip', 'none', 'dynamic', 'dynamic-if'] as const);
  const eta = sampler.eta === undefined || sampler.eta === null ? null : check.finite('sampler.eta', sampler.eta, { min: 0 });
  const n = schedule.steps;
  const K = sampler.steps ?? n;
  const grid = nestedTimesteps(n, K, sampler.resampleSteps ?? K < n);
  const noise = opts.noise ?? seededNoise(0);
  const R = schedule.numResolutions;

  let xs = startLatents(where, schedule, opts, noise);
  let pending: tf.Tensor[] = [];
  let nfe = 0;
  try {
    const steps = grid.length - 1;
    for (let index = 0; index < steps; index++) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('sampling aborted');
      const t = grid[index];
      const s = grid[index + 1];
      const drawNoise = t !== 1 && eta !== 0;
      const { next, x0s } = tf.tidy(() => {
        const B = xs[R - 1].shape[0];
        const times = tf.fill([B], t - 1);
        const preds = network(xs, times, opts.networkOptions);
        nfe++;
        if (!Array.isArray(preds) || preds.length !== R) validate(where).fail('network output', `${R} tensors`, preds);
        const stepNoise = drawNoise ? xs.map((x) => noise.normal(x.shape)) : [];
        const x0s: tf.Tensor[] = [];
        const next: tf.Tensor[] = [];
        for (let k = 0; k < R; k++) {
          const c = { g: schedule.table[k][t], gl: schedule.table[k][s] };
          const gamma = tf.fill([xs[k].shape[0]], c.g);
          const x0 = thresholdX0(x0FromPrediction(prediction, xs[k], preds[k], gamma), threshold, schedule.imageScale(k));
          x0s.push(x0);
          next.push(updateLatent(xs[k], x0, c, eta, stepNoise[k]));
        }
        return { next, x0s };
      });
      tf.dispose(pending);
      tf.dispose(xs);
      xs = next;
      pending = x0s;
      // One synchronous flag read per step; skipped on webgpu, whose dataSync is unreliable.
      const finite = !syncReadsAllowed() || tf.tidy(() => tf.all(tf.isFinite(xs[0])).dataSync()[0]);
      if (!finite) throw new FewstepError(where, `non-finite values (NaN or Inf) appeared in the latents at step ${index} (t = ${t})`, 'x');
      const event: NestedSamplerEvent = {
        index,
        steps,
        t,
        tNext: s,
        x: xs,
        xHat: x0s,
        nfe,
        keep: () => ({ x: xs.map((x) => tf.keep(x.clone())), xHat: x0s.map((x) => tf.keep(x.clone())) }),
      };
      yield event;
    }
    const scale = schedule.shifted ? 1 : schedule.scales[0];
    return tf.tidy(() => tf.clipByValue(xs[0].mul(scale), -1, 1));
  } finally {
    tf.dispose(pending);
    tf.dispose(xs);
  }
}

/** Runs nested sampling to the end; returns the high-resolution sample (caller-owned). */
export function nestedSample(network: MultiResNetwork, sampler: NestedSamplerOptions, opts: NestedSampleOptions = {}): tf.Tensor {
  const gen = nestedSampleSteps(network, sampler, opts);
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

/** Like nestedSample, but returns the final latents of every resolution (x_0 of each level, unclipped). */
export function nestedSampleAll(network: MultiResNetwork, sampler: NestedSamplerOptions, opts: NestedSampleOptions = {}): tf.Tensor[] {
  const gen = nestedSampleSteps(network, sampler, opts);
  let last: tf.Tensor[] = [];
  for (;;) {
    const r = gen.next();
    if (r.done) {
      r.value.dispose();
      return last;
    }
    tf.dispose(last);
    const kept = r.value.keep();
    tf.dispose(kept.xHat);
    last = kept.x;
  }
}
