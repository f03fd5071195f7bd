import * as tf from '@tensorflow/tfjs';
import { validate, type Network } from '@fewstep/core';
import { checkContext, forwardOptions, type Loss, type LossContext, type LossResult } from '@fewstep/losses';
import { imagePyramid, mixedBatchSizes, parseRatio } from './pyramid';
import { convertPrediction, noisyInput, predictionTarget, type MdmPrediction, type NestedSchedule } from './schedule';
import type { MultiResNetwork } from './unet';

export interface NestedLossOptions {
  /** Per-resolution schedules (scales, shift or rescale). */
  schedule: NestedSchedule;
  /** What the network predicts (default 'v', as in the released configs). */
  prediction?: MdmPrediction;
  /** What the loss compares (default: the prediction type; the configs use 'eps'). */
  lossTarget?: MdmPrediction;
  /** Supervise every resolution (default true) or only the highest (the reference's default). */
  doubleLoss?: boolean;
  /** Per-resolution weights, e.g. "16:4:1" or [4, 1] (needs doubleLoss). Default all 1. */
  weights?: readonly number[] | string;
  /** Mixed batch "m_0:m_1:..": resolution k is run on the first int(r_k B) samples only. */
  mixedRatio?: readonly number[] | string;
  /** Reduce with VDM weights sum(l w[t+1]) / sum(w[t+1]) instead of the mean. */
  vdmWeighting?: boolean;
  /** Put every intermediate (x_t, targets, converted predictions, gammas) into `stats`. */
  recordIntermediates?: boolean;
}

/** The context of the nested loss: `network` may be a multi-resolution network or, for one resolution, a plain Network. */
export type NestedLossContext = Omit<LossContext, 'network'> & { network: Network | MultiResNetwork };

export interface NestedLoss extends Loss {
  readonly options: Readonly<Required<Pick<NestedLossOptions, 'prediction' | 'lossTarget' | 'doubleLoss' | 'vdmWeighting'>>> & { weights: number[] };
  compute(ctx: NestedLossContext): LossResult;
}

function callNetwork(network: Network | MultiResNetwork, xs: tf.Tensor[], t: tf.Tensor, opts: object): tf.Tensor[] {
  if ((network as MultiResNetwork).multiResolution) return (network as MultiResNetwork)(xs, t, opts);
  if (xs.length !== 1) {
    validate('nestedLoss.compute').fail('ctx.network', `a multi-resolution network (asNetwork()) for ${xs.length} resolutions`, network);
  }
  return [(network as Network)(xs[0], t, opts)];
}

/**
 * Matryoshka Diffusion's multi-resolution loss (`NestedDiffusion.get_loss` + the trainer's
 * reduction), as a fewstep Loss. Draws, in order: time ~ randint(0, n) [B], eps_0 like ctx.x,
 * then one fresh normal per lower resolution. Per resolution k: x_t = sqrt(g_k) img_k +
 * sqrt(1 - g_k) eps_k with g_k = gamma_k[time + 1]; the network sees [x_t_0, ...] and `time`;
 * l_k = mean_CHW (pred_k - target_k)^2 (converted between eps and v when the types differ);
 * loss = sum_k w_k l_k (k = 0 only without doubleLoss).
 */
export function nestedLoss(opts: NestedLossOptions): NestedLoss {
  const check = validate('nestedLoss');
  if (!opts || typeof opts !== 'object') check.fail('opts', 'loss options with a schedule', opts);
  const schedule = opts.schedule;
  if (!schedule || !Array.isArray(schedule.table)) check.fail('schedule', 'a NestedSchedule', schedule);
  const R = schedule.numResolutions;
  const prediction = check.oneOf('prediction', opts.prediction ?? 'v', ['eps', 'v'] as const);
  const lossTarget = check.oneOf('lossTarget', opts.lossTarget ?? prediction, ['eps', 'v'] as const);
  const doubleLoss = opts.doubleLoss ?? true;
  if (opts.weights !== undefined && !doubleLoss && R > 1) check.fail('weights', 'omitted when doubleLoss is false (only the highest resolution is supervised)', opts.weights);
  const weights = opts.weights === undefined ? Array(R).fill(1) : parseRatio('nestedLoss', 'weights', opts.weights, R);
  if (opts.mixedRatio !== undefined) parseRatio('nestedLoss', 'mixedRatio', opts.mixedRatio, R);
  const vdmWeighting = opts.vdmWeighting ?? false;
  const record = opts.recordIntermediates ?? false;
  return {
    name: 'mdm-nested',
    options: { prediction, lossTarget, doubleLoss, vdmWeighting, weights },
    compute(ctx: NestedLossContext): LossResult {
      const where = 'nestedLoss.compute';
      const { batch: B } = checkContext(where, ctx as LossContext);
      const mixed = opts.mixedRatio !== undefined ? mixedBatchSizes(opts.mixedRatio, B, R) : undefined;
      return tf.tidy(() => {
        const time = ctx.noise.randint([B], 0, schedule.steps);
        const images = imagePyramid(ctx.x, schedule.scales);
        const eps = images.map((img) => ctx.noise.normal(img.shape));
        const stats: Record<string, tf.Tensor | number> = { time };
        const index = time.add(1);
        const gammas = images.map((_, k) => schedule.gammaAt(k, index));
        const clean = images.map((img, k) => (schedule.imageScale(k) === 1 ? img : img.div(schedule.imageScale(k))));
        const xt = clean.map((img, k) => noisyInput(img, eps[k], gammas[k]));
        const inputs = xt.map((x, k) => (mixed && mixed.sizes[k] < B ? x.slice(0, mixed.sizes[k]) : x));
        const raw = callNetwork(ctx.network, inputs, time.toFloat(), forwardOptions(ctx as LossContext));
        if (!Array.isArray(raw) || raw.length !== R) validate(where).fail('network output', `${R} tensors (one per resolution)`, raw);
        let total: tf.Tensor = tf.zeros([B]);
        for (let k = 0; k < R; k++) {
          validate(where).sameShape(`input ${k}`, inputs[k], `network output ${k}`, raw[k]);
          // Missing rows of a mixed batch are zero-filled, as NestedModel.forward does.
          const full = raw[k].shape[0] < B ? tf.concat([raw[k], tf.zeros([B - raw[k].shape[0], ...raw[k].shape.slice(1)])], 0) : raw[k];
          const target = predictionTarget(lossTarget, clean[k], eps[k], gammas[k]);
          const pred = convertPrediction(prediction, lossTarget, xt[k], full, gammas[k]);
          if (record) Object.assign(stats, { [`gamma_res${k}`]: gammas[k], [`x_t_res${k}`]: xt[k], [`target_res${k}`]: target, [`pred_res${k}`]: pred });
          if (k > 0 && !doubleLoss) continue;
          let lk: tf.Tensor = tf.mean(tf.squaredDifference(pred, target), [1, 2, 3]);
          if (mixed) {
            const keep = tf.tensor1d(Array.from({ length: B }, (_, i) => (i < mixed.sizes[k] ? 1 / mixed.fractions[k] : 0)));
            lk = lk.mul(keep);
          }
          stats[`loss_res${k}`] = lk;
          total = total.add(lk.mul(weights[k]));
        }
        const perSample = total as tf.Tensor1D;
        let loss: tf.Scalar;
        if (vdmWeighting) {
          const w = schedule.vdmWeightAt(index);
          stats.vdm_weights = w;
          loss = tf.div(tf.sum(perSample.mul(w)), tf.sum(w)) as tf.Scalar;
        } else loss = tf.mean(perSample) as tf.Scalar;
        return { loss, perSample, stats };
      });
    },
  };
}
