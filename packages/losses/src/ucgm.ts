import * as tf from '@tensorflow/tfjs';
import { betaTimes, mixAt, nativeTarget, roundHalfEven, validate, type Network, type Transport } from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss, type LossContext, type LossResult } from './contract';
import { updateTeacherEma } from './ema';
import { withoutGradient } from './gradient';
import { cosineDistance, pseudoHuberDistance } from './metrics';
import { ucgmTarget } from './ucgm-target';

/** The online weights and the teacher's variables, so the trainer can keep the teacher (EMA / frozen copy) itself. */
export interface UcgmTeacherWeights {
  online: readonly tf.Tensor[];
  teacher: readonly tf.Variable[];
}

export interface UcgmOptions {
  /** The transport (UCGM: linear, relinear, trigflow, triglinear, random, edm). */
  transport: Transport;
  /** consistc_ratio in [0, 1]: 0 multi-step (flow matching), 1 continuous consistency, between: discrete. Default 0. */
  consistencyRatio?: number;
  /** ema_decay_rate of the teacher in [0, 1]: 0 = the online network, 1 = frozen copy, between = EMA. Default 0. */
  emaDecayRate?: number;
  /** enhanced_ratio (training-time guidance); remapped to (enr - 1)/enr when enr >= 1 and cor = 0. Default 0. */
  enhancedRatio?: number;
  /** lab_drop_ratio: round-half-even(ratio * B) last labels become the null class. Default 0.1. */
  labelDropRatio?: number;
  /** enhanced_range (open interval of t where enhancement applies). Default [0, 0.75]. */
  enhancedRange?: [number, number];
  /** scaled_cbl_eps h >= 0 of the per-sample sqrt(mean (F - target)^2 + h^2) - h. Default 0. */
  scaledCblEps?: number;
  /** wt_cosine_loss: add the channel-wise cosine distance. Default false. */
  cosineLoss?: boolean;
  /** weight_funcion: 'cosine' weights sample i by cos(1.57 t_i); 'none' (default). */
  weighting?: 'none' | 'cosine';
  /** time_dist_ctrl [a, b, c]: t = clamp(c Beta(a, b), 0, 1). Default [1, 1, 1]. */
  timeDistribution?: [number, number, number];
  /** The null class id (= number of classes); needed when labels are given. */
  numClasses?: number;
  /** Lets the trainer maintain the teacher's variables (EMA / frozen copy) from the online weights. */
  teacherWeights?: UcgmTeacherWeights;
}

/** The trainer's explicit, JSON-serialisable state (checkpoint it with the model). */
export interface UcgmState {
  /** cmd: the current teacher-EMA decay (0 at start, approaches emaDecayRate). */
  cmd: number;
  /** Whether the teacher copy exists (emaDecayRate = 1: made once, then frozen). */
  teacherInitialised: boolean;
  /** Number of compute calls so far. */
  calls: number;
}

export interface UcgmTrainer extends Loss {
  /** The effective enhanced ratio after the reference's remapping rule. */
  readonly enhancedRatio: number;
  state(): UcgmState;
  loadState(state: UcgmState): void;
}

/**
 * UCGM-T (LINs-lab/UCGM unigen:UCGMTS.training_step) as a stateful loss: Beta times, label
 * dropout, the native / enhanced / consistency target without gradient, scaled pseudo-Huber
 * (+ cosine) loss and optional cosine weighting. `ctx.network` predicts the transport's native
 * F; `ctx.teacher` is the teacher network (only needed when emaDecayRate > 0 and an enhanced
 * target is used). Draws per call: t [B] (Beta), then z like x.
 */
export function ucgmTrainer(opts: UcgmOptions): UcgmTrainer {
  const check = validate('ucgmTrainer');
  const transport = opts?.transport;
  if (typeof transport?.alphaIn !== 'function') check.fail('transport', 'a Transport', transport);
  const cor = check.finite('consistencyRatio', opts.consistencyRatio ?? 0, { min: 0, max: 1 });
  const emd = check.finite('emaDecayRate', opts.emaDecayRate ?? 0, { min: 0, max: 1 });
  let enr = check.finite('enhancedRatio', opts.enhancedRatio ?? 0);
  if (enr >= 1 && cor === 0) enr = (enr - 1) / enr;
  const tdr = check.finite('labelDropRatio', opts.labelDropRatio ?? 0.1, { min: 0, max: 1 });
  const range = check.numbers('enhancedRange', opts.enhancedRange ?? [0, 0.75], { length: 2 }) as [number, number];
  const huc = check.finite('scaledCblEps', opts.scaledCblEps ?? 0, { min: 0 });
  const weighting = check.oneOf('weighting', opts.weighting ?? 'none', ['none', 'cosine'] as const);
  const [a, b, c] = check.numbers('timeDistribution', opts.timeDistribution ?? [1, 1, 1], { length: 3, gt: 0 });
  const times = betaTimes({ a, b, scale: c });
  const numClasses = opts.numClasses === undefined ? undefined : check.integer('numClasses', opts.numClasses, { min: 0 });
  const tw = opts.teacherWeights;
  if (tw !== undefined) {
    check.check(Array.isArray(tw.online) && Array.isArray(tw.teacher) && tw.online.length === tw.teacher.length,
      'teacherWeights', '{online, teacher}: two arrays of equal length', tw);
  }
  const distance = pseudoHuberDistance({ c: huc, over: 'mean' });
  const cosine = cosineDistance();
  const state: UcgmState = { cmd: 0, teacherInitialised: false, calls: 0 };
  const usesTarget = cor !== 0 || enr !== 0;

  /** unigen: the teacher update, run each time the no-grad block runs, before cmd moves towards emd. */
  function syncTeacher(): void {
    if (emd === 0) return;
    if (emd === 1) {
      if (!state.teacherInitialised && tw) updateTeacherEma(tw.teacher, tw.online, 0);
    } else {
      if (tw) updateTeacherEma(tw.teacher, tw.online, state.cmd);
      state.cmd = state.cmd + (1 - state.cmd) * (emd - state.cmd) * 0.5;
    }
    state.teacherInitialised = true;
  }

  function teacherOf(ctx: LossContext): Network {
    if (emd === 0) return ctx.network;
    if (enr === 0) return ctx.network; // the teacher is kept up to date but never evaluated
    return validate('ucgmTrainer.compute').fn<Network>('ctx.teacher (emaDecayRate > 0 with an enhanced target)', ctx.teacher);
  }

  return {
    name: `ucgm-${transport.name}`,
    enhancedRatio: enr,
    state: () => ({ ...state }),
    loadState(s) {
      const v = validate('ucgmTrainer.loadState');
      state.cmd = v.finite('state.cmd', s?.cmd, { min: 0, max: 1 });
      state.teacherInitialised = Boolean(s.teacherInitialised);
      state.calls = v.integer('state.calls', s.calls, { min: 0 });
    },
    compute(ctx) {
      const { batch } = checkContext('ucgmTrainer.compute', ctx);
      const teacher = teacherOf(ctx);
      if (ctx.classLabels !== undefined && numClasses === undefined) {
        validate('ucgmTrainer').fail('numClasses', 'the null class id when ctx.classLabels are given', numClasses);
      }
      // Python round (half to even); ndrop = 0 selects every row (c[-0:] is the whole tensor).
      const ndrop = roundHalfEven(tdr * batch);
      const droppedRows = Array.from({ length: batch }, (_, i) => ctx.classLabels !== undefined && (ndrop === 0 || i >= batch - ndrop));
      if (usesTarget) syncTeacher();
      state.calls++;
      return tf.tidy(() => {
        const t = times.sample(ctx.noise, batch);
        const z = ctx.noise.normal(ctx.x.shape);
        const dropped = tf.tensor1d(droppedRows, 'bool');
        const labels = ctx.classLabels === undefined ? undefined
          : tf.where(dropped, tf.fill([batch], numClasses as number, ctx.classLabels.dtype), ctx.classLabels);
        const nullLabels = ctx.classLabels === undefined ? undefined : tf.fill([batch], numClasses as number, ctx.classLabels.dtype);
        const withLabels = forwardOptions(ctx, labels);
        const xt = mixAt(transport, ctx.x, z, t);
        const F = ctx.network(xt, t, withLabels);
        validate('ucgmTrainer.compute').sameShape('ctx.x', ctx.x, 'network output', F);
        const target = withoutGradient(() => usesTarget
          ? ucgmTarget({
              transport, network: ctx.network, teacher, x: ctx.x, z, xt, F, t,
              kept: tf.logicalNot(dropped) as tf.Tensor1D, withLabels, withNullLabels: forwardOptions(ctx, nullLabels),
              consistencyRatio: cor, enhancedRatio: enr, enhancedRange: range,
            })
          : nativeTarget(transport, ctx.x, z, t));
        let dist = distance(F, target);
        if (opts.cosineLoss) dist = tf.add(dist, cosine(F, target)) as tf.Tensor1D;
        const perSampleLoss = (weighting === 'cosine' ? tf.mul(dist, tf.cos(tf.mul(t, 1.57))) : dist) as tf.Tensor1D;
        const stats: Record<string, tf.Tensor | number> = { t, F, target, distance: dist, cmd: state.cmd, ndrop };
        if (labels) stats.labels = labels;
        return { loss: reduceLoss(perSampleLoss, 'mean'), perSample: perSampleLoss, stats } as unknown as tf.TensorContainerObject;
      }) as unknown as LossResult;
    },
  };
}
