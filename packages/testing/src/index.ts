/**
 * Test helpers shared by the fewstep packages (private, never published): golden-vector loading,
 * the golden tolerance rule, tensor-leak checks and backend selection for the test run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export interface GoldenTensor {
  shape: number[];
  dtype: string;
  data: number[];
  atol?: number;
  rtol?: number;
}

export interface Golden {
  name: string;
  source?: string;
  description?: string;
  params: Record<string, any>;
  inputs: Record<string, GoldenTensor>;
  expected: Record<string, GoldenTensor>;
  tolerances?: Record<string, { atol: number; rtol: number }>;
  atol?: number;
  rtol?: number;
  weights?: string;
  [key: string]: unknown;
}

/** Reads `<fixtures>/<name>.json` (name with or without `.json`). */
export function loadGolden(fixturesDir: string, name: string): Golden {
  const file = name.endsWith('.json') ? name : `${name}.json`;
  return JSON.parse(readFileSync(join(fixturesDir, file), 'utf8')) as Golden;
}

/** A golden tensor as a tfjs tensor (int dtypes become int32). */
export function toTensor(g: GoldenTensor): tf.Tensor {
  const dtype = g.dtype.startsWith('int') || g.dtype === 'uint8' ? 'int32' : 'float32';
  return tf.tensor(g.data, g.shape, dtype);
}

/** The tolerance for an expected key: per-tensor override, then `tolerances[key]`, then top level. */
export function toleranceFor(golden: Golden, key: string): { atol: number; rtol: number } {
  const t = golden.expected[key];
  const fromKey = golden.tolerances?.[key];
  return {
    atol: t?.atol ?? fromKey?.atol ?? golden.atol ?? 1e-6,
    rtol: t?.rtol ?? fromKey?.rtol ?? golden.rtol ?? 1e-5,
  };
}

/** Compares with the golden rule |a - e| <= atol + rtol |e|; returns a description of the worst miss or null. */
export function compareClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { atol: number; rtol: number },
): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const allowed = tol.atol + tol.rtol * Math.abs(e);
    const err = Math.abs(a - e);
    if (!(err <= allowed) && !(a === e)) {
      const ratio = Number.isFinite(err) ? err / allowed : Infinity;
      if (ratio > worstRatio || worst < 0 || Number.isNaN(a)) {
        worst = i;
        worstRatio = ratio;
      }
    }
  }
  if (worst < 0) return null;
  return `element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (error ${Math.abs(
    actual[worst] - expected[worst],
  )} > allowed ${tol.atol + tol.rtol * Math.abs(expected[worst])})`;
}

/** Throws unless `actual` matches `golden.expected[key]` (shape and values) to the golden tolerance. */
export function expectGolden(
  golden: Golden,
  key: string,
  actual: tf.Tensor | ArrayLike<number> | number,
  tolOverride?: { atol: number; rtol: number },
): void {
  const exp = golden.expected[key];
  if (!exp) throw new Error(`${golden.name}: no expected key ${key}`);
  let values: ArrayLike<number>;
  if (typeof actual === 'number') values = [actual];
  else if (actual instanceof tf.Tensor) {
    const size = exp.shape.reduce((a, b) => a * b, 1);
    if (actual.size !== size) {
      throw new Error(`${golden.name}/${key}: shape [${actual.shape}] vs expected [${exp.shape}]`);
    }
    values = actual.dataSync();
  } else values = actual;
  const msg = compareClose(values, exp.data, tolOverride ?? toleranceFor(golden, key));
  if (msg) throw new Error(`${golden.name}/${key}: ${msg}`);
}

/** Runs `fn`, disposes what it returns, and throws if the number of live tensors changed. */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, dispose?: (result: T) => void): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  if (dispose) dispose(result);
  else tf.dispose(collectTensors(result));
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`leaked ${after - before} tensors (before ${before}, after ${after})`);
  return result;
}

function collectTensors(value: unknown, out: tf.Tensor[] = [], seen = new Set<unknown>()): tf.Tensor[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return out;
  seen.add(value);
  if (value instanceof tf.Tensor) {
    if (!(value instanceof tf.Variable)) out.push(value);
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value as object)) collectTensors(v, out, seen);
  return out;
}

/**
 * Selects the tfjs backend for a test file from FEWSTEP_TEST_BACKEND (default cpu), so the same
 * suites run on every backend this machine has.
 */
export async function useTestBackend(): Promise<string> {
  const name = process.env.FEWSTEP_TEST_BACKEND ?? 'cpu';
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`test backend ${name} failed to initialise`);
  }
  await tf.ready();
  return name;
}

const DRAW_KINDS: Record<string, 'normal' | 'uniform' | 'randint' | 'beta' | 'categorical'> = {
  'torch.randn': 'normal',
  'torch.randn_like': 'normal',
  'torch.rand': 'uniform',
  'torch.rand_like': 'uniform',
  'torch.randint': 'randint',
  'torch.multinomial': 'categorical',
};

/** The golden file's `params.random_draws`, in call order, as recorded draws for `replayNoise`. */
export function goldenDraws(golden: Golden): { kind: 'normal' | 'uniform' | 'randint' | 'beta' | 'categorical'; data: number[]; shape: number[]; label: string }[] {
  const draws = (golden.params.random_draws ?? []) as { input: string; fn: string }[];
  return draws.map((d) => {
    const kind = DRAW_KINDS[d.fn];
    if (!kind) throw new Error(`${golden.name}: unknown draw function ${d.fn}`);
    const t = golden.inputs[d.input];
    if (!t) throw new Error(`${golden.name}: draw input ${d.input} missing`);
    return { kind, data: t.data, shape: t.shape, label: d.input };
  });
}

export { setUpDawnWebGpu, trapSyncReads, asAsyncOnlyBackend } from './async-reads';
export type { SyncReadTrap } from './async-reads';
