import * as tf from '@tensorflow/tfjs';
import {
  cmCurriculum,
  eulerStep,
  heunStep,
  perSample,
  rhoRoots,
  snrWeighting,
  toPerSample,
  validate,
  type CmCurriculumOptions,
  type Denoiser,
  type Network,
  type SnrWeighting,
} from '@fewstep/core';
import { checkContext, forwardOptions, reduceLoss, type Loss, type LossContext, type LossResult } from './contract';
import { withoutGradient } from './gradient';
import { resolveDistance, type Distance, type DistanceName } from './metrics';

export interface ConsistencyLossOptions {
  /** Curriculum of N(k) and mu(k) (OpenAI CM create_ema_and_scales_fn). Default fixed N = 40, mu = 0. */
  curriculum?: CmCurriculumOptions;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  /** sigma_data (only the 'karras' weighting uses it). Default 0.5. */
  sigmaData?: number;
  /** 'l2' | 'l1' | 'l2-32', or any per-sample Distance (e.g. LPIPS). Default 'l2'. */
  distance?: DistanceName | Distance;
  /** CM's weighting of snr = sigma^-2 (core's `snrWeighting`). Default 'uniform' (all published CM configs). */
  weighting?: SnrWeighting;
}

export interface ConsistencyDistillationOptions extends ConsistencyLossOptions {
  /** The teacher's ODE step from t to t2: 'heun' (PyTorch CM) or 'euler' (JAX CM). Default 'heun'. */
  solver?: 'heun' | 'euler';
}

/** A consistency loss also tells the loop the target-EMA rate of the step (update theta^- after the optimiser step). */
export interface ConsistencyLoss extends Loss {
  /** mu(k) and N(k) at training step k. */
  schedule(step: number): { targetEma: number; numScales: number };
}


interface Resolved {
  curriculum: (step: number) => { targetEma: number; numScales: number };
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  /** sigmaMin^(1/rho), sigmaMax^(1/rho): checked to fit float32, where the grid is computed. */
  roots: { lo: number; hi: number };
  sigmaData: number;
  distance: Distance;
  weighting: SnrWeighting;
}

function resolve(where: string, opts: ConsistencyLossOptions): Resolved {
  const check = validate(where);
  const sigmaMin = check.finite('sigmaMin', opts.sigmaMin ?? 0.002, { gt: 0 });
  const sigmaMax = check.finite('sigmaMax', opts.sigmaMax ?? 80, { gt: sigmaMin });
  const rho = check.finite('rho', opts.rho ?? 7, { gt: 0 });
  return {
    curriculum: cmCurriculum(opts.curriculum ?? {}),
    sigmaMin,
    sigmaMax,
    rho,
    roots: rhoRoots(where, sigmaMin, sigmaMax, rho, { float32: true }),
    sigmaData: check.finite('sigmaData', opts.sigmaData ?? 0.5, { gt: 0 }),
    distance: resolveDistance(where, opts.distance ?? 'l2'),
    weighting: check.oneOf('weighting', opts.weighting ?? 'uniform', ['uniform', 'snr', 'snr+1', 'karras', 'truncated-snr'] as const),
  };
}

/** sigma(i; N) = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho on int indices, in float32 like the reference. */
function indexSigma(i: tf.Tensor, N: number, r: Resolved): tf.Tensor1D {
  return tf.tidy(() => {
    const { lo, hi } = r.roots;
    const ramp = tf.div(tf.cast(i, 'float32'), N - 1);
    return tf.pow(tf.add(hi, tf.mul(ramp, lo - hi)), r.rho) as tf.Tensor1D;
  });
}

/**
 * The shared body of CT and CD (KarrasDenoiser.consistency_losses): z first, then i ~ U{0..N-2};
 * x_t = x + t z; online f(x_t, t) with gradient; `step` moves x_t to t2 without gradient; target
 * f^-(x_t2, t2) by the target network with the same dropout seed.
 */
function consistencyCompute(
  where: string,
  r: Resolved,
  ctx: LossContext,
  odeStep: (xt: tf.Tensor, t: tf.Tensor1D, t2: tf.Tensor1D) => tf.Tensor,
): LossResult {
  const { batch } = checkContext(where, ctx);
  const step = ctx.step ?? 0;
  const { numScales: N, targetEma } = r.curriculum(step);
  const target: Network = ctx.targetNetwork ?? ctx.network;
  const opts = forwardOptions(ctx);
  return tf.tidy(() => {
    const z = ctx.noise.normal(ctx.x.shape);
    const idx = ctx.noise.randint([batch], 0, N - 1);
    const t = indexSigma(idx, N, r);
    const t2 = indexSigma(tf.add(idx, 1), N, r);
    const xt = tf.add(ctx.x, tf.mul(z, perSample(t, ctx.x)));
    const f = ctx.network(xt, t, opts);
    validate(where).sameShape('ctx.x', ctx.x, 'network output', f);
    const fTarget = withoutGradient(() => target(odeStep(xt, t, t2), t2, opts));
    const w = snrWeighting(r.weighting, t, r.sigmaData);
    const perSampleLoss = tf.mul(r.distance(f, fTarget), w) as tf.Tensor1D;
    return {
      loss: reduceLoss(perSampleLoss, 'mean'),
      perSample: perSampleLoss,
      stats: { t, t2, weight: w, numScales: N, targetEma } as unknown as tf.NamedTensorMap,
    };
  }) as unknown as LossResult;
}

/**
 * Original consistency training (Song et al. 2023, CT): the ODE step from t to t2 is Euler with the
 * clean data as denoiser. `ctx.network` is the consistency function f (boundary-preconditioned);
 * `ctx.targetNetwork` is theta^- (EMA with rate `schedule(step).targetEma`; defaults to the online
 * network under stop-gradient).
 */
export function consistencyTrainingLoss(opts: ConsistencyLossOptions = {}): ConsistencyLoss {
  const r = resolve('consistencyTrainingLoss', opts);
  return {
    name: 'consistency-training',
    schedule: (step) => r.curriculum(step),
    compute(ctx) {
      return consistencyCompute('consistencyTrainingLoss.compute', r, ctx, (xt, t, t2) => {
        const clean: Denoiser = () => ctx.x;
        return eulerStep(clean, xt, t, t2);
      });
    },
  };
}

/**
 * Consistency distillation (CD): the ODE step from t to t2 is one Heun (or Euler) step of the
 * teacher denoiser `ctx.teacher` (EDM-preconditioned, sigma space), a core ODE step.
 */
export function consistencyDistillationLoss(opts: ConsistencyDistillationOptions = {}): ConsistencyLoss {
  const r = resolve('consistencyDistillationLoss', opts);
  const solver = validate('consistencyDistillationLoss').oneOf('solver', opts.solver ?? 'heun', ['heun', 'euler'] as const);
  return {
    name: `consistency-distillation-${solver}`,
    schedule: (step) => r.curriculum(step),
    compute(ctx) {
      const teacher = validate('consistencyDistillationLoss.compute').fn<Network>('ctx.teacher', ctx?.teacher);
      return consistencyCompute('consistencyDistillationLoss.compute', r, ctx, (xt, t, t2) => {
        const denoise: Denoiser = (x, s) => teacher(x, toPerSample(s, x.shape[0]), { ...ctx.networkOptions, train: false, classLabels: ctx.classLabels });
        return solver === 'heun' ? heunStep(denoise, xt, t, t2) : eulerStep(denoise, xt, t, t2);
      });
    },
  };
}
