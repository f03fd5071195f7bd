import * as tf from '@tensorflow/tfjs';
import { FewstepError, assertSyncRead, validate, type Network, type NetworkOptions, type NoiseSource } from '@fewstep/core';

/**
 * What a loss sees at one training step. The user's loop builds it; a loss never owns the
 * network, the optimizer or the data pipeline.
 */
export interface LossContext {
  /** The online network (the one being trained). Its meaning (denoiser, consistency function, native F) is the loss's. */
  network: Network;
  /** The data batch x, [B, ...] (NHWC images or [B, D] vectors). */
  x: tf.Tensor;
  /** Optional class labels (int32 [B]), forwarded to the network as `classLabels`. */
  classLabels?: tf.Tensor;
  /** Other per-call network options (augmentation labels, conditioning, train flag). */
  networkOptions?: Omit<NetworkOptions, 'classLabels' | 'dropoutSeed'>;
  /** The training step (0-based): curricula and stage schedules are pure functions of it. */
  step?: number;
  /** Where every random draw comes from (seeded, per-sample, or a replay of recorded draws). */
  noise: NoiseSource;
  /** The EMA / target network theta^- (CT, CD). Evaluated without gradient. */
  targetNetwork?: Network;
  /** A teacher (CD: a denoiser; UCGM-T: the EMA teacher in native F). Evaluated without gradient. */
  teacher?: Network;
  /**
   * Dropout seed passed identically to the online and the target forward so both draw one mask
   * (ECT, CT, CD, UCGM). Defaults to `step` when omitted.
   */
  dropoutSeed?: number;
}

/** What `compute` returns. Inside `optimizer.minimize` / `tf.variableGrads` everything but `loss` is disposed automatically. */
export interface LossResult {
  /** The reduced scalar that is differentiated. */
  loss: tf.Scalar;
  /** One value per sample such that `loss = reduce(perSample)` (for logging and importance weighting). */
  perSample: tf.Tensor1D;
  /** Loss-specific diagnostics: per-sample times, weights, targets (tensors) and curriculum values (numbers). */
  stats: Record<string, tf.Tensor | number>;
}

/** A loss: any value with `compute(ctx)`. User losses implement the same contract and are first-class. */
export interface Loss {
  readonly name: string;
  compute(ctx: LossContext): LossResult;
}

export type Reduction = 'mean' | 'sum';

/** Reduces per-sample losses explicitly: 'mean' (every reference here) or 'sum' over the batch. */
export function reduceLoss(perSample: tf.Tensor1D, reduction: Reduction = 'mean'): tf.Scalar {
  const check = validate('reduceLoss');
  check.tensor('perSample', perSample, { rank: 1 });
  check.oneOf('reduction', reduction, ['mean', 'sum'] as const);
  return (reduction === 'mean' ? tf.mean(perSample) : tf.sum(perSample)) as tf.Scalar;
}

/** Validates a context: the batch, the network, the noise source and the labels' batch size. */
export function checkContext(where: string, ctx: LossContext): { batch: number } {
  const check = validate(where);
  if (!ctx || typeof ctx !== 'object') check.fail('ctx', 'a LossContext object', ctx);
  check.fn('ctx.network', ctx.network);
  const x = check.tensor('ctx.x', ctx.x, { rank: [2, 3, 4, 5] });
  check.check(x.dtype === 'float32', 'ctx.x', 'a float32 tensor', x);
  if (!ctx.noise || typeof ctx.noise.normal !== 'function') check.fail('ctx.noise', 'a NoiseSource', ctx.noise);
  const batch = x.shape[0];
  check.check(batch > 0, 'ctx.x', 'a non-empty batch', x);
  if (ctx.classLabels !== undefined) {
    const c = check.tensor('ctx.classLabels', ctx.classLabels, { rank: [1, 2] });
    if (c.shape[0] !== batch) check.fail('ctx.classLabels', `a tensor with the batch size of ctx.x (${batch}) first`, c);
  }
  if (ctx.step !== undefined) check.integer('ctx.step', ctx.step, { min: 0 });
  if (ctx.dropoutSeed !== undefined) check.integer('ctx.dropoutSeed', ctx.dropoutSeed);
  if (ctx.targetNetwork !== undefined) check.fn('ctx.targetNetwork', ctx.targetNetwork);
  if (ctx.teacher !== undefined) check.fn('ctx.teacher', ctx.teacher);
  return { batch };
}

/** The options every forward of one step shares: labels, the same dropout seed, the user's extras. */
export function forwardOptions(ctx: LossContext, classLabels = ctx.classLabels): NetworkOptions {
  const dropoutSeed = ctx.dropoutSeed ?? ctx.step;
  return {
    ...ctx.networkOptions,
    ...(classLabels !== undefined ? { classLabels } : {}),
    ...(dropoutSeed !== undefined ? { dropoutSeed } : {}),
  };
}

/** Throws a FewstepError naming the non-finite entries of read-back per-sample values. */
function reportNonFinite(where: string, values: ArrayLike<number>): void {
  const bad: number[] = [];
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad.push(i);
  if (bad.length > 0) {
    const shown = bad.slice(0, 16).map((i) => `${i} (${values[i]})`).join(', ');
    throw new FewstepError(
      where,
      `loss must be finite, got non-finite per-sample values at sample indices ${shown}${bad.length > 16 ? ', ...' : ''}`,
      'loss',
    );
  }
}

/**
 * Throws a FewstepError naming the samples whose loss is NaN or infinite. Synchronous (reads the
 * per-sample values back), so it is opt-in: wrap a loss with `withFiniteCheck`. On webgpu, whose
 * dataSync returns zeros, it throws naming `assertFiniteLossAsync`.
 */
export function assertFiniteLoss(where: string, perSample: tf.Tensor1D): void {
  assertSyncRead('assertFiniteLoss', 'await assertFiniteLossAsync(where, perSample)');
  reportNonFinite(where, perSample.dataSync());
}

/** `assertFiniteLoss` reading the values with `await data()`: every backend, required on webgpu. */
export async function assertFiniteLossAsync(where: string, perSample: tf.Tensor1D): Promise<void> {
  reportNonFinite(where, await perSample.data());
}

/**
 * Wraps a loss so every compute checks its per-sample values and reports non-finite samples by
 * index. The check reads synchronously inside `compute` (which runs under the gradient tape and
 * cannot await), so on webgpu the wrapped loss throws: there use `StepGuard.stepAsync` (skips
 * non-finite steps) or `await assertFiniteLossAsync(name, result.perSample)` outside the tape.
 */
export function withFiniteCheck(loss: Loss): Loss {
  return {
    name: loss.name,
    compute(ctx) {
      assertSyncRead(`withFiniteCheck(${loss.name})`, 'StepGuard.stepAsync or await assertFiniteLossAsync(name, perSample)');
      const result = loss.compute(ctx);
      try {
        assertFiniteLoss(loss.name, result.perSample);
      } catch (e) {
        tf.dispose(result as unknown as tf.TensorContainer);
        throw e;
      }
      return result;
    },
  };
}
