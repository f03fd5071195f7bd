import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

/** Runs `fn` on `backend` and returns its results as plain arrays (tensors disposed). */
export async function onBackend<T extends tf.Tensor | tf.Tensor[]>(backend: string, fn: () => T): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => t.dataSync() as Float32Array).map((v) => Float32Array.from(v));
  tf.dispose(list);
  return values;
}

export { relError } from './rel-error';

/** Deterministic values in [-1, 1) from a seed (the same data on every backend). */
export function seeded(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return tf.tensor(v, shape);
}

/** Runs `fn` on `backend` and returns live data ids of that backend before and after (leak check below the engine). */
export function backendDataIds(): number {
  return tf.engine().backend.numDataIds();
}

/** Asserts `fn` leaves no tensor in the engine and no data in the active backend. */
export function expectNoBackendLeak(fn: () => tf.Tensor | tf.Tensor[]): void {
  const tensors = tf.memory().numTensors;
  const ids = backendDataIds();
  tf.dispose(tf.tidy(fn));
  const dt = tf.memory().numTensors - tensors;
  const di = backendDataIds() - ids;
  if (dt !== 0 || di !== 0) throw new Error(`leaked ${dt} tensors and ${di} backend data ids`);
}
