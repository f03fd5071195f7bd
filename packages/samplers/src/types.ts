import type * as tf from '@tensorflow/tfjs';
import type { Estimates, NetworkOptions, NoiseSource, Parameterisation, Transport } from '@fewstep/core';

/**
 * What every step rule and modifier talks to: the model's (xHat, zHat) at a state x and time t
 * (a JS number shared by the batch). The returned tensors belong to the caller.
 */
export type Estimator = (x: tf.Tensor, t: number, opts?: NetworkOptions) => Estimates;

/** What a step rule sees at one step. Everything in here is read-only. */
export interface StepContext {
  readonly transport: Transport;
  /** The model, with every modifier of the sampler applied; each call is one network evaluation. */
  readonly predict: Estimator;
  /** Options forwarded to every network call (class labels, conditioning, ...). */
  readonly networkOptions?: NetworkOptions;
  /** All randomness comes from here. */
  readonly noise: NoiseSource;
  /** 0-based step index and number of steps (grid intervals). */
  readonly index: number;
  readonly steps: number;
  readonly grid: readonly number[];
  /** grid[index] and grid[index + 1]. */
  readonly t: number;
  readonly tNext: number;
}

/** What one step produces. All three tensors are new and handed to the runner. */
export interface StepResult {
  /** The state at tNext. */
  x: tf.Tensor;
  /** The data estimate the step started from (after modifiers, before any extrapolation). */
  xHat: tf.Tensor;
  /** The matching noise estimate. */
  zHat: tf.Tensor;
}

/**
 * Per-run scratch space of a step rule (previous estimates, a reused scalar). A fresh one is made
 * for every run, so there is no hidden state between calls; tensors stored here are disposed by the
 * runner when the run ends, and a tensor replaced by `set` is disposed at once.
 */
export interface RuleState {
  get(key: string): tf.Tensor | undefined;
  /** Stores `value` (ownership passes to the state; the old value under `key` is disposed). */
  set(key: string, value: tf.Tensor): void;
  getNumber(key: string): number | undefined;
  setNumber(key: string, value: number): void;
}

/** How one step moves the state from t to tNext. */
export interface StepRule {
  readonly name: string;
  /**
   * One step. Must not dispose `x` (the runner owns it) and must return new tensors, none of them
   * stored in `state` (store a clone). Runs inside a tf.tidy, so intermediates are released
   * automatically; keep cross-step tensors in `state`.
   */
  step(x: tf.Tensor, ctx: StepContext, state: RuleState): StepResult;
}

/** A modifier rewrites the model seen by the step rule (guidance, clamping, editing constraints). */
export interface Modifier {
  readonly name: string;
  wrap(inner: Estimator, info: { transport: Transport }): Estimator;
}

/** A sampler: time grid x step rule x modifiers, plus how it starts and what it returns. */
export interface Sampler {
  readonly name: string;
  readonly transport: Transport;
  /** t_0 (noise end) ... t_N; N = grid.length - 1 steps. */
  readonly grid: readonly number[];
  readonly rule: StepRule;
  readonly modifiers: readonly Modifier[];
  /** Parameterisation assumed when a bare network (not a Predictor) is given. */
  readonly parameterisation: Parameterisation;
  /** Turns standard-normal latents into the start state at grid[0] (new tensor). */
  start(latents: tf.Tensor): tf.Tensor;
  /** Which tensor of the last step is the sample: the state x, or the last data estimate xHat. */
  readonly output: 'x' | 'xHat';
  /** Final transform of the output (e.g. clamping to [-1, 1]); returns a new tensor. */
  finish?(out: tf.Tensor): tf.Tensor;
}

/** A typed progress event: one per step. */
export interface SamplerEvent {
  readonly index: number;
  readonly steps: number;
  /** Time (or sigma) at the start and end of the step. */
  readonly t: number;
  readonly tNext: number;
  /** State at tNext, and the estimates the step used. See the ownership rule in `sampleSteps`. */
  readonly x: tf.Tensor;
  readonly xHat: tf.Tensor;
  readonly zHat: tf.Tensor;
  /** Network evaluations so far (a batched guidance call counts once). */
  readonly nfe: number;
  /**
   * Returns caller-owned handles on x, xHat and zHat (same data, no copy); the caller disposes them.
   * The event's own tensors are disposed by the generator when the next step runs (or the run ends).
   */
  keep(): { x: tf.Tensor; xHat: tf.Tensor; zHat: tf.Tensor };
  /**
   * The sample if the run stopped here (the sampler's output, x or xHat, after its `finish`), as a new
   * caller-owned tensor. On the last event this is the final sample.
   */
  sample(): tf.Tensor;
}
