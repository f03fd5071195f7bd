import * as tf from '@tensorflow/tfjs';
import {
  FewstepError,
  assertSyncRead,
  syncReadsAllowed,
  seededNoise,
  validate,
  type Network,
  type NetworkOptions,
  type NoiseSource,
  type Parameterisation,
  type Predictor,
  type Transport,
} from '@fewstep/core';
import { estimatorOf, resolvePredictor } from './estimator';
import type { Estimator, Modifier, RuleState, Sampler, SamplerEvent, StepContext, StepRule } from './types';

export interface SamplerDefinition {
  name: string;
  transport: Transport;
  grid: readonly number[];
  rule: StepRule;
  modifiers?: readonly Modifier[];
  parameterisation?: Parameterisation;
  /** Default: latents * alphaIn(grid[0]) (pure noise at the start time). */
  start?: (latents: tf.Tensor) => tf.Tensor;
  output?: 'x' | 'xHat';
  finish?: (out: tf.Tensor) => tf.Tensor;
  /**
   * 'strict' (default): every grid value moves towards the data end. 'except-last': UCGM's grid,
   * whose appended final 0 may jump back (for transports where t = 0 is noise; never evaluated).
   */
  monotone?: 'strict' | 'except-last';
}

/**
 * Builds a sampler from a grid, a step rule and modifiers, validating the grid: at least one step,
 * finite times inside the transport's range, strictly moving towards the data end.
 */
export function defineSampler(def: SamplerDefinition): Sampler {
  const check = validate('defineSampler');
  if (typeof def?.name !== 'string' || !def.name) check.fail('name', 'a non-empty string', def?.name);
  const transport = def.transport;
  if (!transport || typeof transport.alphaIn !== 'function') check.fail('transport', 'a Transport', transport);
  const grid = check.numbers('grid', def.grid as number[], { minLength: 2 });
  grid.forEach((t, i) => transport.checkTime('defineSampler', `grid[${i}]`, t));
  const towardsData = transport.integrationStart === 1 ? -1 : 1;
  const last = def.monotone === 'except-last' ? grid.length - 1 : grid.length;
  for (let i = 1; i < last; i++) {
    if (!((grid[i] - grid[i - 1]) * towardsData > 0)) {
      check.fail(
        `grid[${i}]`,
        `strictly ${towardsData < 0 ? 'decreasing' : 'increasing'} (towards the data end of ${transport.name}; previous ${grid[i - 1]})`,
        grid[i],
      );
    }
  }
  if (!def.rule || typeof def.rule.step !== 'function') check.fail('rule', 'a StepRule', def.rule);
  const modifiers = def.modifiers ?? [];
  modifiers.forEach((m, i) => {
    if (!m || typeof m.wrap !== 'function') check.fail(`modifiers[${i}]`, 'a Modifier', m);
  });
  const output = check.oneOf('output', def.output ?? 'x', ['x', 'xHat'] as const);
  const t0 = grid[0];
  return {
    name: def.name,
    transport,
    grid,
    rule: def.rule,
    modifiers,
    parameterisation: def.parameterisation ?? 'native',
    start: def.start ?? ((latents) => tf.mul(latents, transport.alphaIn(t0))),
    output,
    finish: def.finish,
  };
}

/** Where the model comes from and what the run starts from. */
export interface SampleOptions {
  /** The model: a Predictor for the sampler's transport, or a bare network (with the sampler's default parameterisation). */
  predictor?: Predictor;
  network?: Network;
  parameterisation?: Parameterisation;
  /** Standard-normal latents (scaled by the sampler's `start`). Not disposed. */
  latents?: tf.Tensor;
  /** Or the start state at grid[0] itself (e.g. an editing start point). Not disposed. */
  x?: tf.Tensor;
  /** Or only a shape: the latents are then the first draw from `noise`. */
  shape?: number[];
  /** Every random draw (default: seededNoise(0), a fresh one per call). */
  noise?: NoiseSource;
  /** Forwarded to every network call. */
  networkOptions?: NetworkOptions;
  /** Stops the run before the next step; the generator throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * Check for NaN/Inf after every step and report the step index (default true; one small sync per
   * step). Checks the tensor the sample is read from: the state x, or xHat for samplers returning xHat.
   * Default false on webgpu, and `true` there is a FewstepError: the check reads synchronously, and
   * webgpu's `dataSync` returns zeros and loses the device in headless Chromium.
   */
  checkFinite?: boolean;
}

class MapState implements RuleState {
  private readonly tensors = new Map<string, tf.Tensor>();
  private readonly numbers = new Map<string, number>();
  get(key: string) {
    return this.tensors.get(key);
  }
  set(key: string, value: tf.Tensor) {
    const old = this.tensors.get(key);
    tf.keep(value);
    this.tensors.set(key, value);
    if (old && old !== value) old.dispose();
  }
  getNumber(key: string) {
    return this.numbers.get(key);
  }
  setNumber(key: string, value: number) {
    this.numbers.set(key, value);
  }
  dispose() {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/** Validates how the run starts (eagerly, so sampleSteps throws at the call, not at the first step). */
function checkStart(where: string, opts: SampleOptions): void {
  const check = validate(where);
  const given = [opts.latents, opts.x, opts.shape].filter((v) => v !== undefined).length;
  if (given !== 1) check.fail('latents', 'exactly one of latents, x or shape', { latents: opts.latents, x: opts.x });
  if (opts.x !== undefined) check.tensor('x', opts.x);
  if (opts.latents !== undefined) check.tensor('latents', opts.latents);
  if (opts.shape !== undefined) {
    const shape = opts.shape;
    if (!Array.isArray(shape) || shape.length < 1) check.fail('shape', 'a tensor shape [B, ...]', shape);
    shape.forEach((s, i) => check.integer(`shape[${i}]`, s, { min: 1 }));
  }
}

function startState(sampler: Sampler, opts: SampleOptions, noise: NoiseSource): tf.Tensor {
  if (opts.x !== undefined) return opts.x.clone();
  if (opts.latents !== undefined) return sampler.start(opts.latents);
  const latents = noise.normal(opts.shape!);
  const x = sampler.start(latents);
  latents.dispose();
  return x;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new Error('sampling aborted');
}

function assertFinite(sampler: Sampler, index: number, t: number, x: tf.Tensor): void {
  const what = sampler.output === 'xHat' ? 'data estimate' : 'state';
  const flag = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(x))));
  const bad = flag.dataSync()[0];
  flag.dispose();
  if (bad) {
    throw new FewstepError(
      `sampler(${sampler.name})`,
      `non-finite values (NaN or Inf) appeared in the ${what} at step ${index} (t = ${t})`,
      'x',
    );
  }
}

/**
 * Runs a sampler as a generator of step events (for progress, early stopping, intermediates).
 *
 * Ownership rule: an event's tensors (x, xHat, zHat) belong to the generator and are disposed
 * when the next step runs, or when the run ends (normally, by `break`/`return`, abort or error).
 * Never dispose them yourself. To keep them, call `event.keep()`: it returns new handles on the same
 * data (no copy) that belong to the caller. `event.sample()` returns the sample as it would be if the
 * run ended at this step (the last event's is the final sample), also owned by the caller. The
 * caller's `latents` / `x` are never disposed. Nothing is allocated for the caller unless asked
 * for, so a plain `for...of` loop leaks nothing.
 */
export function sampleSteps(sampler: Sampler, opts: SampleOptions = {}): Generator<SamplerEvent, void, void> {
  const where = `sampleSteps(${sampler?.name})`;
  const check = validate(where);
  if (!sampler || typeof sampler.rule?.step !== 'function') check.fail('sampler', 'a Sampler (see defineSampler)', sampler);
  const predictor = resolvePredictor(where, sampler.transport, sampler.parameterisation, opts);
  checkStart(where, opts);
  if (opts.checkFinite === true) assertSyncRead(where, 'checkFinite: false, then check the sample with await data()');
  return run(sampler, predictor, opts);
}

function* run(sampler: Sampler, predictor: Predictor, opts: SampleOptions): Generator<SamplerEvent, void, void> {
  const noise = opts.noise ?? seededNoise(0);
  // The check reads one flag back synchronously; webgpu's dataSync is unreliable (headless
  // Chromium returns zeros, then loses the device), so it is off there unless asked for.
  const checkFinite = opts.checkFinite ?? syncReadsAllowed();
  throwIfAborted(opts.signal);

  let nfe = 0;
  const base = estimatorOf(predictor);
  const counted: Estimator = (x, t, o) => {
    nfe++;
    return base(x, t, o);
  };
  const predict = sampler.modifiers.reduce<Estimator>((inner, m) => m.wrap(inner, { transport: sampler.transport }), counted);

  const state = new MapState();
  let x = startState(sampler, opts, noise);
  let live: tf.Tensor[] = [x]; // what the generator owns right now
  try {
    const steps = sampler.grid.length - 1;
    for (let index = 0; index < steps; index++) {
      throwIfAborted(opts.signal);
      const t = sampler.grid[index];
      const tNext = sampler.grid[index + 1];
      const ctx: StepContext = {
        transport: sampler.transport,
        predict,
        networkOptions: opts.networkOptions,
        noise,
        index,
        steps,
        grid: sampler.grid,
        t,
        tNext,
      };
      const [xNext, xHat, zHat] = tf.tidy(() => {
        const r = sampler.rule.step(x, ctx, state);
        // Three distinct tensors, so that disposing one never frees another.
        const xh = r.xHat === r.x ? r.xHat.clone() : r.xHat;
        const zh = r.zHat === r.x || r.zHat === r.xHat ? r.zHat.clone() : r.zHat;
        return [r.x === x ? r.x.clone() : r.x, xh, zh];
      });
      // The previous state and estimates are no longer needed by anyone.
      tf.dispose(live);
      live = [xNext, xHat, zHat];
      x = xNext;
      const output = sampler.output === 'xHat' ? xHat : xNext;
      // Check the tensor the sample is read from: a non-finite state that never reaches it is harmless
      // (UCGM's last corrector may divide by gammaIn = 0; the reference returns the finite xHat).
      if (checkFinite) assertFinite(sampler, index, t, output);
      yield {
        index,
        steps,
        t,
        tNext,
        x: xNext,
        xHat,
        zHat,
        nfe,
        // New handles on the same data (no copy): the generator still reads its own x in the next step.
        keep: () => ({ x: xNext.clone(), xHat: xHat.clone(), zHat: zHat.clone() }),
        sample: () => tf.tidy(() => (sampler.finish ? sampler.finish(output) : output.clone())),
      };
    }
  } finally {
    tf.dispose(live);
    state.dispose();
  }
}

/** Runs a sampler to the end and returns the sample (owned by the caller). */
export function sample(sampler: Sampler, opts: SampleOptions = {}): tf.Tensor {
  let result: tf.Tensor | undefined;
  for (const ev of sampleSteps(sampler, opts)) {
    if (ev.index === ev.steps - 1) result = ev.sample();
  }
  return result!;
}
