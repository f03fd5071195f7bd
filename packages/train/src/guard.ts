import * as tf from '@tensorflow/tfjs';
import { FewstepError, assertSyncRead, clipByGlobalNorm, validate } from '@fewstep/core';

/** Parameters to train: an nn Module (its trainable parameters), named variables, or a list. */
export type GuardParams = { namedParameters(): [string, tf.Variable][] } | Record<string, tf.Variable> | tf.Variable[];

export interface StepGuardOptions {
  /** Throw after this many consecutive non-finite steps (K, default 5). */
  maxConsecutive?: number;
}

export interface GuardedStepArgs {
  /** The training step (for error messages and the event log). */
  step: number;
  optimizer: tf.Optimizer;
  params: GuardParams;
  /** Computes the scalar loss (called inside the gradient tape). */
  loss: () => tf.Scalar;
  /** Clip gradients to this global L2 norm before the update (optional). */
  clipNorm?: number;
}

export interface GuardedStepResult {
  /** The loss value (possibly NaN or infinite on a skipped step). */
  loss: number;
  /** True when the update was skipped. */
  skipped: boolean;
  /** On a skipped step: 'loss' or the name of the first parameter whose gradient is non-finite. */
  nonFinite?: string;
}

/** A step whose gradients are computed and whose flags are not read yet. */
interface PendingStep {
  params: [string, tf.Variable][];
  value: tf.Scalar;
  grads: tf.NamedTensorMap;
  flags: tf.Tensor;
}

export interface GuardEvent {
  step: number;
  tensor: string;
  loss: number;
}

function namedParams(where: string, params: GuardParams): [string, tf.Variable][] {
  const check = validate(where);
  let out: [string, tf.Variable][];
  if (Array.isArray(params)) out = params.map((v) => [v?.name, v]);
  else if (params && typeof (params as { namedParameters?: unknown }).namedParameters === 'function') {
    out = (params as { namedParameters(): [string, tf.Variable][] }).namedParameters().filter(([, v]) => v.trainable);
  } else if (params && typeof params === 'object') out = Object.entries(params as Record<string, tf.Variable>);
  else return check.fail('params', 'a Module, a record of variables or an array of variables', params);
  check.check(out.length > 0, 'params', 'at least one trainable variable', params);
  out.forEach(([n, v]) => check.check(v instanceof tf.Variable && !v.isDisposed, `params.${n}`, 'a live tf.Variable', v));
  return out;
}

/**
 * A training-step guard: computes the loss and gradients, and applies the update only when the
 * loss and every gradient are finite. A non-finite step keeps the parameters and the optimizer
 * state (moments, step count) untouched and is counted; after `maxConsecutive` consecutive
 * non-finite steps it throws a FewstepError naming the step and the first non-finite tensor.
 * One device read per step (the loss and a finiteness flag per gradient, together): `step` reads
 * it synchronously (cpu, wasm, webgl), `stepAsync` with `await data()` (every backend; webgpu).
 */
export class StepGuard {
  readonly maxConsecutive: number;
  /** Non-finite steps so far (all skipped). */
  skipped = 0;
  /** Current run of consecutive non-finite steps. */
  consecutive = 0;
  /** The most recent skipped steps (at most 100). */
  readonly events: GuardEvent[] = [];

  constructor(opts: StepGuardOptions = {}) {
    this.maxConsecutive = validate('StepGuard').integer('maxConsecutive', opts.maxConsecutive ?? 5, { min: 1 });
  }

  /**
   * One guarded step, reading the flags synchronously (cpu, wasm, webgl). On webgpu, whose
   * dataSync returns zeros, it throws a FewstepError naming `stepAsync`.
   */
  step(args: GuardedStepArgs): GuardedStepResult {
    assertSyncRead('StepGuard.step', 'await guard.stepAsync(args)');
    const pending = this.begin('StepGuard.step', args);
    return this.finish(args, pending, () => pending.flags.dataSync());
  }

  /**
   * The same step with the flags read by `await data()`: works on every backend (required on
   * webgpu) and gives the same result as `step`. Await it before the next step: the update is
   * applied only after the read.
   */
  async stepAsync(args: GuardedStepArgs): Promise<GuardedStepResult> {
    const pending = this.begin('StepGuard.stepAsync', args);
    let read: ArrayLike<number>;
    try {
      read = await pending.flags.data();
    } catch (e) {
      tf.dispose([pending.flags, pending.value, ...Object.values(pending.grads)]);
      throw e;
    }
    return this.finish(args, pending, () => read);
  }

  /** Validates, computes the loss and gradients, and packs [loss, finite(grad_i)...] into one tensor. */
  private begin(where: string, args: GuardedStepArgs): PendingStep {
    const check = validate(where);
    if (!args || typeof args !== 'object') check.fail('args', 'an object {step, optimizer, params, loss}', args);
    check.integer('step', args.step, { min: 0 });
    check.check(args.optimizer instanceof tf.Optimizer, 'optimizer', 'a tf.Optimizer', args.optimizer);
    check.fn('loss', args.loss);
    if (args.clipNorm !== undefined) check.finite('clipNorm', args.clipNorm, { gt: 0 });
    const params = namedParams(where, args.params);
    const { value, grads } = tf.variableGrads(args.loss, params.map(([, v]) => v));
    const order = params.map(([, v]) => v.name);
    const flags = tf.tidy(() =>
      tf.concat([value.reshape([1]), ...order.map((n) => (grads[n] ? tf.all(tf.isFinite(grads[n]!)).cast('float32').reshape([1]) : tf.ones([1])))]),
    );
    return { params, value, grads, flags };
  }

  /** Applies or skips the step from the read flags; disposes everything the step made. */
  private finish(args: GuardedStepArgs, pending: PendingStep, readFlags: () => ArrayLike<number>): GuardedStepResult {
    const { params, value, grads, flags } = pending;
    try {
      const read = readFlags();
      const loss = read[0]!;
      const bad = !Number.isFinite(loss) ? 'loss' : params.find((_, i) => read[i + 1] === 0)?.[0];
      if (bad === undefined) {
        this.consecutive = 0;
        this.apply(args, grads);
        return { loss, skipped: false };
      }
      return this.skip(args.step, bad, loss);
    } finally {
      tf.dispose([flags, value, ...Object.values(grads)]);
    }
  }

  private apply(args: GuardedStepArgs, grads: tf.NamedTensorMap): void {
    if (args.clipNorm === undefined) return args.optimizer.applyGradients(grads);
    const { grads: clipped, norm } = clipByGlobalNorm(grads, args.clipNorm);
    args.optimizer.applyGradients(clipped);
    tf.dispose([norm, ...Object.values(clipped)]);
  }

  private skip(step: number, tensor: string, loss: number): GuardedStepResult {
    this.skipped++;
    this.consecutive++;
    this.events.push({ step, tensor, loss });
    if (this.events.length > 100) this.events.shift();
    if (this.consecutive >= this.maxConsecutive) {
      const what = tensor === 'loss' ? `the loss (${loss})` : `the gradient of ${tensor}`;
      throw new FewstepError(
        'StepGuard',
        `training must produce finite losses and gradients, got ${this.consecutive} consecutive non-finite steps ending at step ${step}; ` +
          `first non-finite tensor: ${what} (${this.skipped} step(s) skipped in total)`,
        tensor,
      );
    }
    return { loss, skipped: true, nonFinite: tensor };
  }

  /** For checkpoints: the counters as JSON. */
  state(): { skipped: number; consecutive: number } {
    return { skipped: this.skipped, consecutive: this.consecutive };
  }

  loadState(state: { skipped: number; consecutive: number }): void {
    const check = validate('StepGuard.loadState');
    this.skipped = check.integer('state.skipped', state?.skipped, { min: 0 });
    this.consecutive = check.integer('state.consecutive', state.consecutive, { min: 0 });
  }
}
