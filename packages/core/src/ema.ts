import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate } from './errors';

/**
 * targets <- rate * targets + (1 - rate) * sources, in place (OpenAI CM's update_ema). Used for
 * evaluation EMAs and for CM's target network.
 */
export function updateEma(targets: readonly tf.Variable[], sources: readonly tf.Tensor[], rate: number): void {
  const check = validate('updateEma');
  check.finite('rate', rate, { min: 0, max: 1 });
  check.check(Array.isArray(targets), 'targets', 'an array of variables', targets);
  check.check(Array.isArray(sources) && sources.length === targets.length, 'sources', `an array of ${targets.length} tensors (one per target)`, sources);
  targets.forEach((t, i) => {
    check.tensor(`targets[${i}]`, t, { dtype: 'float32' });
    check.tensor(`sources[${i}]`, sources[i]);
    check.sameShape(`targets[${i}]`, t, `sources[${i}]`, sources[i]);
  });
  tf.tidy(() => {
    targets.forEach((t, i) => t.assign(tf.add(tf.mul(t, rate), tf.mul(sources[i], 1 - rate))));
  });
}

/** A decay as a function of the (1-based) number of updates made so far. */
export type EmaDecay = (update: number) => number;

/** A fixed decay beta. */
export function fixedDecay(beta: number): EmaDecay {
  validate('fixedDecay').finite('beta', beta, { min: 0, max: 1 });
  return () => beta;
}

/**
 * EDM's half-life EMA: beta = 0.5^(batch / max(halfLife, 1e-8)) with halfLife (in images) capped
 * at rampUp * images seen so far when rampUp is given (EDM default: 500k images, ramp-up 0.05).
 */
export function halfLifeDecay(opts: { halfLifeImages: number; batchSize: number; rampUp?: number | null }): EmaDecay {
  const check = validate('halfLifeDecay');
  const halfLife = check.finite('halfLifeImages', opts?.halfLifeImages, { gt: 0 });
  const batch = check.integer('batchSize', opts.batchSize, { min: 1 });
  const rampUp = opts.rampUp == null ? null : check.finite('rampUp', opts.rampUp, { gt: 0 });
  return (update) => {
    const seen = update * batch;
    const h = rampUp === null ? halfLife : Math.min(halfLife, seen * rampUp);
    return 0.5 ** (batch / Math.max(h, 1e-8));
  };
}

/** EDM2's power-function EMA: beta = (1 - 1/t)^(gamma + 1) at update t (no warm-up needed). */
export function powerDecay(gamma: number): EmaDecay {
  validate('powerDecay').finite('gamma', gamma, { gt: 0 });
  return (update) => (1 - 1 / Math.max(update, 1)) ** (gamma + 1);
}

/**
 * An exponential moving average of a set of variables (an evaluation EMA, CT's target network,
 * a UCGM teacher). The shadow copies are variables of their own; `update()` applies one step.
 * State is explicit: `updates` counts the steps, and `saveState`/`loadState` round-trip it.
 */
let emaCount = 0;

export class ExponentialMovingAverage {
  readonly shadow: tf.Variable[];
  private readonly decay: EmaDecay;
  private readonly sources: readonly tf.Variable[];
  updates = 0;

  constructor(sources: readonly tf.Variable[], decay: number | EmaDecay) {
    const check = validate('ExponentialMovingAverage');
    check.check(Array.isArray(sources) && sources.length > 0, 'sources', 'a non-empty array of variables', sources);
    sources.forEach((v, i) => check.tensor(`sources[${i}]`, v));
    this.decay = typeof decay === 'number' ? fixedDecay(decay) : check.fn<EmaDecay>('decay', decay);
    this.sources = sources;
    const id = emaCount++;
    this.shadow = tf.tidy(() => sources.map((v) => tf.variable(v.clone() as tf.Tensor, false, `${v.name}/ema${id}`)));
  }

  /** The decay the next update will use. */
  nextDecay(): number {
    return this.decay(this.updates + 1);
  }

  /** shadow <- beta shadow + (1 - beta) source, for the next update's beta. Returns beta. */
  update(): number {
    const beta = this.nextDecay();
    if (!Number.isFinite(beta) || beta < 0 || beta > 1) {
      throw new FewstepError('ExponentialMovingAverage.update', `decay must lie in [0, 1], got ${beta} at update ${this.updates + 1}`, 'decay');
    }
    updateEma(this.shadow, this.sources, beta);
    this.updates++;
    return beta;
  }

  /** Copies the averaged values into `targets` (e.g. an evaluation network's variables). */
  copyTo(targets: readonly tf.Variable[]): void {
    updateEma(targets, this.shadow, 0);
  }

  dispose(): void {
    this.shadow.forEach((v) => v.dispose());
  }
}
