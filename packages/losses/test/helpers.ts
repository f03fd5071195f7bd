import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadGolden, type Golden } from '@fewstep/testing';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const golden = (name: string): Golden => loadGolden(FIXTURES, name);
/** Every fixture whose name starts with `prefix` (without .json). */
export const goldenNames = (prefix: string): string[] =>
  readdirSync(FIXTURES)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();

/** Trainable scalars a, b, c of the goldens' affine models, as tf.Variables. */
export interface Affine {
  a: tf.Variable;
  b: tf.Variable;
  c: tf.Variable;
  list: tf.Variable[];
  dispose(): void;
}

export function affine(a: number, b: number, c: number, trainable = true): Affine {
  const va = tf.variable(tf.scalar(a), trainable);
  const vb = tf.variable(tf.scalar(b), trainable);
  const vc = tf.variable(tf.scalar(c), trainable);
  return { a: va, b: vb, c: vc, list: [va, vb, vc], dispose: () => [va, vb, vc].forEach((v) => v.dispose()) };
}

/** d loss / d (a, b, c) via tf.variableGrads, as numbers; disposes everything it made. */
export function gradsOf(p: Affine, f: () => tf.Scalar): { value: number; a: number; b: number; c: number } {
  const { value, grads } = tf.variableGrads(f, p.list);
  const read = (v: tf.Variable) => (grads[v.name] ? grads[v.name].dataSync()[0] : 0);
  const out = { value: value.dataSync()[0], a: read(p.a), b: read(p.b), c: read(p.c) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** Per-sample broadcast of a [B] tensor against x. */
export const rows = (v: tf.Tensor, x: tf.Tensor): tf.Tensor => v.reshape([x.shape[0], ...new Array(x.rank - 1).fill(1)]);

/** Sum over non-batch axes of a golden tensor's data (for elementwise goldens). */
export function perSampleSums(data: number[], batch: number): number[] {
  const n = data.length / batch;
  return Array.from({ length: batch }, (_, i) => data.slice(i * n, (i + 1) * n).reduce((s, v) => s + v, 0));
}
