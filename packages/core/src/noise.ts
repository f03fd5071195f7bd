import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate } from './errors';
import { createRng, hash32 } from './rng';

/**
 * Every random draw in fewstep goes through a NoiseSource, so a run can be replayed exactly, two
 * calls can share noise, and recorded draws (golden vectors) can be fed in.
 */
export interface NoiseSource {
  /** Standard normal float32 tensor. */
  normal(shape: number[]): tf.Tensor;
  /** Uniform float32 in [low, high). */
  uniform(shape: number[], low?: number, high?: number): tf.Tensor;
  /** Uniform int32 in [low, high) (high exclusive, like torch.randint). */
  randint(shape: number[], low: number, high: number): tf.Tensor;
  /** Beta(a, b) float32. */
  beta(shape: number[], a: number, b: number): tf.Tensor;
  /** `n` int32 indices drawn with replacement from the (unnormalised) probabilities. */
  categorical(probs: readonly number[], n: number): tf.Tensor1D;
  /** A JSON-serialisable state from which the source continues identically (for checkpoints). */
  state(): NoiseState;
}

export type NoiseState =
  | { kind: 'seeded'; seed: number; counter: number }
  | { kind: 'per-sample'; seeds: number[]; counter: number }
  | { kind: 'replay'; position: number };

/** A fresh 32-bit seed for draw `counter` (and sub-stream `lane`) of a source seeded with `seed`. */
/**
 * log of a Gamma(shape) draw. Below shape 1 it uses Gamma(a) = Gamma(a + 1) U^(1/a) (Marsaglia &
 * Tsang), in logs, so it stays finite where the draw itself underflows.
 */
function logGamma(s: number[], shape: number, seed: number, stream: number): tf.Tensor {
  if (shape >= 1) return tf.log(tf.randomGamma(s, shape, 1, 'float32', seed));
  const g = tf.randomGamma(s, shape + 1, 1, 'float32', seed);
  const u = tf.randomUniform(s, 1e-30, 1, 'float32', mixSeed(seed, 2, stream));
  return tf.add(tf.log(g), tf.div(tf.log(u), shape));
}

function mixSeed(seed: number, counter: number, lane = 0): number {
  return hash32(hash32(seed, counter), lane);
}

function checkShape(where: string, shape: unknown): number[] {
  const check = validate(where);
  if (!Array.isArray(shape)) return check.fail('shape', 'an array of non-negative integers', shape);
  shape.forEach((s: unknown, i: number) => check.size(`shape[${i}]`, s, 0));
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  check.check(size <= 2 ** 28, 'shape', 'a shape of at most 2^28 elements', shape);
  return shape as number[];
}

function checkProbs(where: string, probs: readonly number[], n: number): void {
  const check = validate(where);
  const p = check.numbers('probs', probs as number[], { min: 0, minLength: 1 });
  check.check(p.some((v) => v > 0), 'probs', 'probabilities with a positive sum', probs);
  check.integer('n', n, { min: 0 });
}

/** Draws categorical indices from uniforms by inverse CDF (exact for any unnormalised probs). */
function categoricalFromUniform(probs: readonly number[], u: ArrayLike<number>): Int32Array {
  const cdf: number[] = [];
  let total = 0;
  for (const p of probs) cdf.push((total += p));
  const out = new Int32Array(u.length);
  for (let i = 0; i < u.length; i++) {
    const target = u[i] * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    while (lo > 0 && probs[lo] === 0) lo--; // never return a zero-probability index
    out[i] = lo;
  }
  return out;
}

abstract class CountingSource implements NoiseSource {
  protected counter: number;
  constructor(counter: number) {
    this.counter = counter;
  }
  /** A fresh seed for each draw, derived from the base seed(s) and the draw counter. */
  protected abstract drawSeed(lane: number): number;
  protected abstract rows(shape: number[], draw: (rowShape: number[], seed: number) => tf.Tensor): tf.Tensor;
  abstract state(): NoiseState;

  normal(shape: number[]): tf.Tensor {
    checkShape('NoiseSource.normal', shape);
    const out = this.rows(shape, (s, seed) => tf.randomNormal(s, 0, 1, 'float32', seed));
    this.counter++;
    return out;
  }
  uniform(shape: number[], low = 0, high = 1): tf.Tensor {
    checkShape('NoiseSource.uniform', shape);
    const check = validate('NoiseSource.uniform');
    check.finite('low', low);
    check.finite('high', high, { gt: low });
    const out = this.rows(shape, (s, seed) => tf.randomUniform(s, low, high, 'float32', seed));
    this.counter++;
    return out;
  }
  randint(shape: number[], low: number, high: number): tf.Tensor {
    checkShape('NoiseSource.randint', shape);
    const check = validate('NoiseSource.randint');
    check.integer('low', low);
    check.integer('high', high, { gt: low });
    const out = this.rows(shape, (s, seed) => {
      const next = createRng(seed).uniform;
      const size = s.reduce((a, b) => a * b, 1);
      const v = new Int32Array(size);
      for (let i = 0; i < size; i++) v[i] = low + Math.floor(next() * (high - low));
      return tf.tensor(v, s, 'int32');
    });
    this.counter++;
    return out;
  }
  beta(shape: number[], a: number, b: number): tf.Tensor {
    checkShape('NoiseSource.beta', shape);
    const check = validate('NoiseSource.beta');
    check.finite('a', a, { gt: 0 });
    check.finite('b', b, { gt: 0 });
    // Beta(a, b) = X / (X + Y) = sigmoid(log X - log Y) with X ~ Gamma(a), Y ~ Gamma(b): tfjs has
    // no Beta sampler. In logs because a Gamma draw with a small shape underflows float32 to 0
    // (a = 0.002 gave 0/0).
    const out = this.rows(shape, (s, seed) =>
      tf.tidy(() => tf.sigmoid(tf.sub(logGamma(s, a, seed, 7), logGamma(s, b, mixSeed(seed, 1, 7), 11)))),
    );
    this.counter++;
    return out;
  }
  categorical(probs: readonly number[], n: number): tf.Tensor1D {
    checkProbs('NoiseSource.categorical', probs, n);
    const next = createRng(this.drawSeed(0)).uniform;
    const u = Array.from({ length: n }, next);
    this.counter++;
    return tf.tensor1d(categoricalFromUniform(probs, u), 'int32');
  }
}

class SeededSource extends CountingSource {
  constructor(
    private readonly seed: number,
    counter: number,
  ) {
    super(counter);
  }
  protected drawSeed(lane: number): number {
    return mixSeed(this.seed, this.counter, lane);
  }
  protected rows(shape: number[], draw: (rowShape: number[], seed: number) => tf.Tensor): tf.Tensor {
    return draw(shape, this.drawSeed(0));
  }
  state(): NoiseState {
    return { kind: 'seeded', seed: this.seed, counter: this.counter };
  }
}

class PerSampleSource extends CountingSource {
  constructor(
    private readonly seeds: number[],
    counter: number,
  ) {
    super(counter);
  }
  protected drawSeed(lane: number): number {
    return mixSeed(this.seeds[0], this.counter, lane);
  }
  protected rows(shape: number[], draw: (rowShape: number[], seed: number) => tf.Tensor): tf.Tensor {
    if (shape.length === 0 || shape[0] !== this.seeds.length) {
      validate('perSampleNoise').fail(
        'shape',
        `a shape whose first axis is the number of seeds (${this.seeds.length})`,
        shape,
      );
    }
    const rowShape = shape.slice(1);
    // Each row from its own stream: a sample never depends on the batch it is drawn in.
    return tf.tidy(() =>
      tf.stack(this.seeds.map((s) => draw(rowShape, mixSeed(s, this.counter)))),
    );
  }
  state(): NoiseState {
    return { kind: 'per-sample', seeds: [...this.seeds], counter: this.counter };
  }
}

/** A seeded noise source (the default everywhere). `counter` resumes a saved state. */
export function seededNoise(seed = 0, counter = 0): NoiseSource {
  const check = validate('seededNoise');
  check.integer('seed', seed);
  check.integer('counter', counter, { min: 0 });
  return new SeededSource(seed >>> 0, counter);
}

/**
 * A noise source with one seed per sample: row i of every draw comes from seed i's own stream,
 * so a sample is the same whichever batch it is generated in. Draws must have the batch as
 * their first axis.
 */
export function perSampleNoise(seeds: readonly number[], counter = 0): NoiseSource {
  const check = validate('perSampleNoise');
  check.check(Array.isArray(seeds) && seeds.length > 0, 'seeds', 'a non-empty array of integers', seeds);
  seeds.forEach((s, i) => check.integer(`seeds[${i}]`, s));
  check.integer('counter', counter, { min: 0 });
  return new PerSampleSource(seeds.map((s) => s >>> 0), counter);
}

/** One recorded draw: its values (flat, row-major in the requested layout), and optionally its kind. */
export interface RecordedDraw {
  kind?: 'normal' | 'uniform' | 'randint' | 'beta' | 'categorical';
  data: ArrayLike<number>;
  /** Informational; the draw is matched by size and reshaped to the requested shape. */
  shape?: number[];
  label?: string;
}

/** The state of a replay source, with the number of draws left. */
export interface ReplaySource extends NoiseSource {
  remaining(): number;
}

/**
 * Replays recorded draws in order (e.g. the `random_draws` of a golden file). A request whose
 * kind or size does not match the next recorded draw, or a draw past the end, throws a FewstepError.
 */
export function replayNoise(draws: readonly RecordedDraw[], position = 0): ReplaySource {
  const check = validate('replayNoise');
  check.check(Array.isArray(draws), 'draws', 'an array of recorded draws', draws);
  let pos = check.integer('position', position, { min: 0, max: draws.length });
  function next(kind: NonNullable<RecordedDraw['kind']>, shape: number[], dtype: 'float32' | 'int32'): tf.Tensor {
    if (pos >= draws.length) {
      throw new FewstepError('replayNoise', `draw ${pos + 1} (${kind} of shape [${shape}]) requested, but only ${draws.length} draws were recorded`, 'draws');
    }
    const d = draws[pos];
    const size = shape.reduce((a, b) => a * b, 1);
    const label = d.label ? ` (${d.label})` : '';
    if (d.kind && d.kind !== kind) {
      throw new FewstepError('replayNoise', `draw ${pos}${label} was recorded as ${d.kind}, but ${kind} was requested`, 'draws');
    }
    if (d.data.length !== size) {
      throw new FewstepError('replayNoise', `draw ${pos}${label} holds ${d.data.length} values, but shape [${shape}] needs ${size}`, 'draws');
    }
    pos++;
    return tf.tensor(Array.from(d.data), shape, dtype);
  }
  return {
    normal: (shape) => next('normal', checkShape('NoiseSource.normal', shape), 'float32'),
    uniform: (shape) => next('uniform', checkShape('NoiseSource.uniform', shape), 'float32'),
    randint: (shape) => next('randint', checkShape('NoiseSource.randint', shape), 'int32'),
    beta: (shape) => next('beta', checkShape('NoiseSource.beta', shape), 'float32'),
    categorical: (probs, n) => {
      checkProbs('NoiseSource.categorical', probs, n);
      return next('categorical', [n], 'int32') as tf.Tensor1D;
    },
    state: () => ({ kind: 'replay', position: pos }),
    remaining: () => draws.length - pos,
  };
}

/** Restores a seeded or per-sample source from its saved state. */
export function noiseFromState(state: NoiseState): NoiseSource {
  const check = validate('noiseFromState');
  if (state?.kind === 'seeded') return seededNoise(state.seed, state.counter);
  if (state?.kind === 'per-sample') return perSampleNoise(state.seeds, state.counter);
  return check.fail('state', 'a saved seeded or per-sample noise state (replay sources hold their own data)', state);
}
