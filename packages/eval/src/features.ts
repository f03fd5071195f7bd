import type * as tf from '@tensorflow/tfjs';
import { assertSyncRead, isTensor, validate } from '@fewstep/core';

/** A set of feature vectors: a `[N, D]` tensor, an array of rows, or row-major values with a dim. */
export type FeatureSet = tf.Tensor2D | tf.Tensor1D | ArrayLike<number>[] | { data: ArrayLike<number>; dim: number };

/** A feature set as float64 row-major values (reading a tensor creates no new tensors). */
export interface Rows {
  data: Float64Array;
  rows: number;
  dim: number;
}

/** Converts any `FeatureSet` to float64 rows; rank-1 tensors are N samples of dimension 1. */
export function toRows(where: string, argument: string, x: FeatureSet, minRows = 1): Rows {
  const check = validate(where);
  let out: Rows;
  if (isTensor(x)) {
    check.tensor(argument, x, { rank: [1, 2] });
    assertSyncRead(where, `await readFeatures(${argument}) and pass its {data, dim}`);
    const dim = x.rank === 1 ? 1 : (x.shape[1] as number);
    out = { data: Float64Array.from(x.dataSync()), rows: x.shape[0], dim };
  } else if (Array.isArray(x)) {
    check.check(x.length > 0 && typeof x[0]?.length === 'number', argument, 'a non-empty array of feature rows', x);
    const dim = x[0].length;
    const data = new Float64Array(x.length * dim);
    x.forEach((row, r) => {
      if (row?.length !== dim) check.fail(`${argument}[${r}]`, `a row of ${dim} numbers`, row);
      for (let d = 0; d < dim; d++) data[r * dim + d] = row[d];
    });
    out = { data, rows: x.length, dim };
  } else if (typeof x === 'object' && x !== null && 'data' in x && 'dim' in x) {
    const dim = check.integer(`${argument}.dim`, x.dim, { min: 1 });
    check.check(x.data.length % dim === 0 && x.data.length > 0, `${argument}.data`, `a non-empty multiple of dim=${dim} values`, x.data.length);
    out = { data: Float64Array.from(x.data), rows: x.data.length / dim, dim };
  } else {
    return check.fail(argument, 'a [N, D] tensor, an array of rows, or {data, dim}', x);
  }
  check.check(out.dim >= 1, argument, 'features of dimension >= 1', out.dim);
  check.check(out.rows >= minRows, argument, `at least ${minRows} samples`, `${out.rows} samples`);
  const bad = out.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) check.fail(`${argument}[${Math.floor(bad / out.dim)}][${bad % out.dim}]`, 'a finite number', out.data[bad]);
  return out;
}

/**
 * Reads a feature tensor back with `await data()` as `{data, dim}`, which every metric here accepts
 * (the way to use the metrics on webgpu, where their synchronous tensor read throws). Other feature
 * sets are returned unchanged.
 */
export async function readFeatures(x: FeatureSet): Promise<Exclude<FeatureSet, tf.Tensor>> {
  if (!isTensor(x)) return x;
  validate('readFeatures').tensor('x', x, { rank: [1, 2] });
  return { data: await x.data(), dim: x.rank === 1 ? 1 : (x.shape[1] as number) };
}

/** Throws unless both feature sets have the same dimension. */
export function checkSameDim(where: string, a: Rows, b: Rows, argA = 'a', argB = 'b'): void {
  validate(where).check(a.dim === b.dim, argB, `features of dimension ${a.dim} like ${argA}`, `dimension ${b.dim}`);
}
