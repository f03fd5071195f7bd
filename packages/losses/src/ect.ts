import * as tf from '@tensorflow/tfjs';
import { ectStage, ectTToR, logNormalTimes, perSample, validate } from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss } from './contract';
import { withoutGradient } from './gradient';
import { pseudoHuberDistance } from './metrics';

/** ECT's stage schedule (ct_training_loop): stages double every `doubleTicks` ticks of `kimgPerTick` kimg. */
export interface EctStageSchedule {
  batchSize: number;
  kimgPerTick: number;
  doubleTicks: number;
}

export interface EctLossOptions {
  /** Log-normal t: ln t ~ N(pMean, pStd^2). Defaults -1.1, 2.0. */
  pMean?: number;
  pStd?: number;
  /** t -> r mapping: 'sigmoid' (default) or 'const'. */
  mapping?: 'sigmoid' | 'const';
  /** Mapping parameters q (> 1), k, b. Defaults 2, 8, 1. */
  q?: number;
  k?: number;
  b?: number;
  /** Pseudo-Huber c >= 0 (0: plain L2 norm). Default 0. */
  c?: number;
  /**
   * The stage: a fixed integer >= 0, a function of the step, or ECT's tick schedule (then the
   * stage is `ectStage(step, schedule)`). Default 0.
   */
  stage?: number | ((step: number) => number) | EctStageSchedule;
}

export interface EctLoss extends Loss {
  /** The stage used at training step k (a pure function of k). */
  stageAt(step: number): number;
}

/**
 * Easy Consistency Tuning (ECT, Geng et al. 2024; locuslab/ect ECMLoss): t log-normal,
 * r = mapping(t, stage), one shared eps: D_yt = f(x + t eps, t) with gradient, target
 * f(x + r eps, r) without gradient (same dropout seed), replaced by x where r = 0 (a select,
 * never mask * inf: the network is evaluated at a safe sigma = 1 on those rows, so no NaN can
 * appear). Per sample: pseudoHuber_c(||D_yt - D_yr||) / (t - r). `ctx.network` is f (ECMPrecond
 * in train mode for the reference). Draws: n [B], then eps like x.
 */
export function ectLoss(opts: EctLossOptions = {}): EctLoss {
  const check = validate('ectLoss');
  const times = logNormalTimes({ pMean: opts.pMean ?? -1.1, pStd: opts.pStd ?? 2.0 });
  const c = check.finite('c', opts.c ?? 0, { min: 0 });
  const mapping = { mapping: opts.mapping, q: opts.q, k: opts.k, b: opts.b };
  ectTToR(1, 0, mapping); // validates the mapping now
  const stageAt = stageResolver(opts.stage ?? 0);
  const distance = pseudoHuberDistance({ c, over: 'sum' });
  return {
    name: 'ect',
    stageAt,
    compute(ctx) {
      const { batch } = checkContext('ectLoss.compute', ctx);
      const stage = stageAt(ctx.step ?? 0);
      const fwd = forwardOptions(ctx);
      return tf.tidy(() => {
        const t = times.sample(ctx.noise, batch);
        const eps = ctx.noise.normal(ctx.x.shape);
        const r = ectTToR(t, stage, mapping) as tf.Tensor1D;
        const at = (s: tf.Tensor1D) => tf.add(ctx.x, tf.mul(eps, perSample(s, ctx.x)));
        const Dyt = ctx.network(at(t), t, fwd);
        validate('ectLoss.compute').sameShape('ctx.x', ctx.x, 'network output', Dyt);
        const Dyr = withoutGradient(() => {
          const positive = tf.greater(r, 0);
          const safeR = tf.where(positive, r, tf.onesLike(r)) as tf.Tensor1D;
          const out = ctx.network(at(safeR), safeR, fwd);
          return tf.where(tf.broadcastTo(perSample(positive, ctx.x), ctx.x.shape), out, ctx.x);
        });
        const perSampleLoss = tf.div(distance(Dyt, Dyr), tf.sub(t, r)) as tf.Tensor1D;
        return {
          loss: reduceLoss(perSampleLoss, 'mean'),
          perSample: perSampleLoss,
          stats: { t, r, Dyt, stage } as unknown as tf.NamedTensorMap,
        };
      }) as unknown as ReturnType<Loss['compute']>;
    },
  };
}

function stageResolver(stage: NonNullable<EctLossOptions['stage']>): (step: number) => number {
  const check = validate('ectLoss');
  if (typeof stage === 'number') {
    check.integer('stage', stage, { min: 0 });
    return () => stage;
  }
  if (typeof stage === 'function') {
    return (step) => validate('ectLoss.stageAt').integer('stage(step)', stage(step), { min: 0 });
  }
  if (typeof stage === 'object' && stage !== null) {
    ectStage(0, stage);
    return (step) => ectStage(step, stage);
  }
  return check.fail('stage', 'an integer >= 0, a function of the step, or {batchSize, kimgPerTick, doubleTicks}', stage);
}
