import * as tf from '@tensorflow/tfjs';
import { mdmGammas, shiftGamma, validate, vdmLossWeights, type MdmScheduleType } from '@fewstep/core';

export interface NestedScheduleOptions {
  /** Base schedule (default 'deepfloyd', as in every released config). */
  type?: MdmScheduleType;
  /** Number of diffusion steps n (default 1000). */
  steps?: number;
  /**
   * Scale of every resolution relative to the lowest, highest first: the network's
   * `nestRatio` + [1] (e.g. [4, 1] for 256/64, [16, 4, 1] for 1024/256/64).
   */
  scales: number[];
  /**
   * true (default): resolution-shifted schedules, logSNR_k = logSNR - power ln s_k.
   * false: one schedule; the clean image of resolution k is divided by s_k instead.
   */
  shifted?: boolean;
  /** Exponent p of the shift (1 for 256 px, 2 for 1024 px in the released configs). */
  power?: number;
  betaStart?: number;
  betaEnd?: number;
}

/**
 * The per-resolution discrete schedules of a nested model (`NestedSampler.get_gammas`):
 * `gamma(k, i)` is alpha-bar of resolution k at integer time i (0 = clean .. n), in JS doubles,
 * rounded once to float32 for the tensor tables.
 */
export class NestedSchedule {
  readonly type: MdmScheduleType;
  readonly steps: number;
  readonly scales: number[];
  readonly shifted: boolean;
  readonly power: number;
  /** Base alpha-bar, n + 1 values. */
  readonly base: number[];
  /** Per resolution: n + 1 alpha-bar values (shifted or the base). */
  readonly table: number[][];
  /** VDM loss weights of the base schedule (n + 1 values). */
  readonly vdmWeights: number[];

  constructor(opts: NestedScheduleOptions) {
    const check = validate('NestedSchedule');
    if (!opts || typeof opts !== 'object') check.fail('opts', 'schedule options with scales', opts);
    this.type = check.oneOf('type', opts.type ?? 'deepfloyd', ['cosine', 'ddpm', 'deepfloyd'] as const);
    this.steps = check.integer('steps', opts.steps ?? 1000, { min: 2 });
    this.scales = check.numbers('scales', opts.scales, { minLength: 1, min: 1 });
    if (this.scales[this.scales.length - 1] !== 1) check.fail('scales', 'a list ending in 1 (the lowest resolution)', opts.scales);
    for (let k = 1; k < this.scales.length; k++) {
      if (!(this.scales[k - 1] > this.scales[k]) || this.scales[k - 1] % this.scales[k] !== 0) {
        check.fail('scales', 'strictly decreasing integers, each a multiple of the next (nest ratio + [1])', opts.scales);
      }
    }
    this.shifted = opts.shifted ?? true;
    this.power = check.finite('power', opts.power ?? 1, { min: 0 });
    this.base = mdmGammas(this.type, this.steps, { betaStart: opts.betaStart, betaEnd: opts.betaEnd });
    this.table = this.scales.map((s) => this.base.map((g) => (this.shifted ? shiftGamma(g, s, this.power) : g)));
    this.vdmWeights = vdmLossWeights(this.base);
  }

  get numResolutions(): number {
    return this.scales.length;
  }

  /** alpha-bar of resolution k at integer time i. */
  gamma(k: number, i: number): number {
    const check = validate('NestedSchedule.gamma');
    check.integer('k', k, { min: 0, max: this.scales.length - 1 });
    check.integer('i', i, { min: 0, max: this.steps });
    return this.table[k][i];
  }

  /** The factor clean images of resolution k are divided by: s_k without shift, 1 with it. */
  imageScale(k: number): number {
    return this.shifted ? 1 : this.scales[k];
  }

  /** alpha-bar of resolution k at integer times `index` (int32 [B]) as float32 [B]. */
  gammaAt(k: number, index: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => tf.gather(tf.tensor1d(this.table[k]), index.toInt()) as tf.Tensor1D);
  }

  /** VDM loss weights at integer times `index` as float32 [B]. */
  vdmWeightAt(index: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => tf.gather(tf.tensor1d(this.vdmWeights), index.toInt()) as tf.Tensor1D);
  }
}

/** The prediction types of MDM: epsilon (the reference's DDPM/DDIM) and v. */
export type MdmPrediction = 'eps' | 'v';

function perSample4(g: tf.Tensor): tf.Tensor {
  return g.reshape([-1, 1, 1, 1]);
}

/** x_t = sqrt(g) x0 + sqrt(1 - g) eps (g per sample [B]). */
export function noisyInput(x0: tf.Tensor, eps: tf.Tensor, gamma: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const g = perSample4(gamma);
    return tf.add(tf.mul(tf.sqrt(g), x0), tf.mul(tf.sqrt(tf.sub(1, g)), eps));
  });
}

/** The training target: eps, or v = sqrt(g) eps - sqrt(1 - g) x0. */
export function predictionTarget(type: MdmPrediction, x0: tf.Tensor, eps: tf.Tensor, gamma: tf.Tensor): tf.Tensor {
  if (type === 'eps') return eps.clone();
  return tf.tidy(() => {
    const g = perSample4(gamma);
    return tf.sub(tf.mul(tf.sqrt(g), eps), tf.mul(tf.sqrt(tf.sub(1, g)), x0));
  });
}

/** x0 from a prediction: (x_t - sqrt(1-g) eps) / sqrt(g), or sqrt(g) x_t - sqrt(1-g) v. */
export function x0FromPrediction(type: MdmPrediction, xt: tf.Tensor, pred: tf.Tensor, gamma: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const g = perSample4(gamma);
    const a = tf.sqrt(g);
    const b = tf.sqrt(tf.sub(1, g));
    return type === 'eps' ? tf.div(tf.sub(xt, tf.mul(b, pred)), a) : tf.sub(tf.mul(a, xt), tf.mul(b, pred));
  });
}

/** eps from x0: (x_t - sqrt(g) x0) / sqrt(1 - g). */
export function epsFromX0(xt: tf.Tensor, x0: tf.Tensor, gamma: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const g = perSample4(gamma);
    return tf.div(tf.sub(xt, tf.mul(tf.sqrt(g), x0)), tf.sqrt(tf.sub(1, g)));
  });
}

/**
 * Converts a prediction of type `from` to type `to` through x0 (`Diffusion.get_pred_for_training`):
 * v = (sqrt(g) x_t - x0) / sqrt(1 - g), eps = (x_t - sqrt(g) x0) / sqrt(1 - g).
 */
export function convertPrediction(from: MdmPrediction, to: MdmPrediction, xt: tf.Tensor, pred: tf.Tensor, gamma: tf.Tensor): tf.Tensor {
  if (from === to) return pred.clone();
  return tf.tidy(() => {
    const x0 = x0FromPrediction(from, xt, pred, gamma);
    if (to === 'eps') return epsFromX0(xt, x0, gamma);
    const g = perSample4(gamma);
    return tf.div(tf.sub(tf.mul(tf.sqrt(g), xt), x0), tf.sqrt(tf.sub(1, g)));
  });
}
