import * as tf from '@tensorflow/tfjs';
import { makeOutput, readValues } from '../kernel-runner';

type TensorInfo = tf.TensorInfo;

/**
 * out[s, ...] = sum of x[i, ...] over i with segmentIds[i] = s (ids outside [0, numSegments)
 * are dropped, as in TensorFlow). The gradient of gather (embeddings). One pass over x in JS:
 * O(size(x)), memory-bound, no one-hot matrix.
 */
export function unsortedSegmentSum(
  backend: tf.KernelBackend,
  x: TensorInfo,
  segmentIds: TensorInfo,
  numSegments: number,
): TensorInfo {
  const idRank = segmentIds.shape.length;
  const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(idRank).reduce((a, b) => a * b, 1);
  const xs = readValues(backend, x);
  const ids = readValues(backend, segmentIds);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner;
    const src = i * inner;
    for (let d = 0; d < inner; d++) out[o + d] += xs[src + d];
  }
  return makeOutput(backend, [numSegments, ...x.shape.slice(idRank)], x.dtype, out);
}

export function unsortedSegmentSumConfig(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.UnsortedSegmentSum,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
      const { numSegments } = attrs as unknown as { numSegments: number };
      return unsortedSegmentSum(backend as tf.KernelBackend, x, segmentIds, numSegments);
    },
  };
}
