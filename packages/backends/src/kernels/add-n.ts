import * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';

type TensorInfo = tf.TensorInfo;

/** The most inputs one stock AddN call may take (webgpu: 8 storage buffers including the output). */
export const ADD_N_CHUNK = 7;

/**
 * AddN in chunks of at most ADD_N_CHUNK inputs, each through the stock AddN, and then the
 * partial sums: webgpu's AddN with 8 or more inputs needs 9 storage buffers and silently
 * returns garbage. `stockAddN` is the backend's own AddN (kept when ours replaces it).
 */
export function chunkedAddN(r: KernelRunner, inputs: TensorInfo[], stockAddN: tf.KernelConfig): TensorInfo {
  let level = inputs;
  while (level.length > ADD_N_CHUNK) {
    const next: TensorInfo[] = [];
    for (let i = 0; i < level.length; i += ADD_N_CHUNK) {
      const chunk = level.slice(i, i + ADD_N_CHUNK);
      next.push(chunk.length === 1 ? chunk[0] : runStock(r, stockAddN, chunk));
    }
    level = next;
  }
  return runStock(r, stockAddN, level);
}

function runStock(r: KernelRunner, stock: tf.KernelConfig, inputs: TensorInfo[]): TensorInfo {
  const out = stock.kernelFunc({
    inputs: inputs as unknown as tf.NamedTensorInfoMap,
    attrs: {},
    backend: r.backend,
  }) as TensorInfo;
  return r.track(out);
}
