import * as tf from '@tensorflow/tfjs';
import { KernelRunner, makeOutput } from '../kernel-runner';
import { axisRuns } from './heap-copy';
import { overStock } from './over-stock';

type TensorInfo = tf.TensorInfo;

/**
 * Sum or mean (`kind`) of float32 `x` over `axes`, flattened to the kept sizes in order. Stock wasm
 * reduces only innermost axes: any other reduction first transposes the whole tensor (the middle
 * axis of [16, 1024, 64]: 4.8 ms; an Add of that size: 3 ms). Here every reduced run R that is not
 * innermost (outer size O, everything after it I) is an average pool of [O, R, 1, I] with an
 * R x 1 window, which XNNPACK runs over the contiguous I without a copy (0.1-0.2 ms for that
 * tensor); the innermost reduced run, if any, goes last to the stock kernel (`stock`), by then on
 * a tensor R times smaller. A sum scales the pooled means by the pooled count.
 */
export function reduceWithoutTranspose(
  r: KernelRunner,
  x: TensorInfo,
  axes: readonly number[],
  kind: 'sum' | 'mean',
  stock: tf.KernelConfig,
): TensorInfo {
  let segments = axisRuns(x.shape, axes); // kept / reduced (marked) runs
  let y = r.reshape(x, [segments.reduce((a, s) => a * s.size, 1)]);
  let pooledCount = 1;
  for (let i = segments.length - 2; i >= 0; i--) {
    const seg = segments[i];
    if (!seg.marked) continue;
    const inner = segments.slice(i + 1).reduce((a, s) => a * s.size, 1);
    const outer = y.shape[0] / (seg.size * inner);
    const pooled = r.run('AvgPool', { x: r.reshape(y, [outer, seg.size, 1, inner]) }, { filterSize: [seg.size, 1], strides: [1, 1], pad: 'valid' });
    y = r.reshape(pooled, [outer * inner]);
    pooledCount *= seg.size;
    segments = [...segments.slice(0, i), ...segments.slice(i + 1)];
  }
  const last = segments[segments.length - 1];
  if (last?.marked) {
    const rows = r.reshape(y, [y.shape[0] / last.size, last.size]);
    y = r.track(stock.kernelFunc({ inputs: { x: rows }, attrs: { axis: [1], keepDims: false }, backend: r.backend }) as TensorInfo);
  }
  if (kind === 'sum' && pooledCount > 1) {
    const count = r.track(makeOutput(r.backend, [], 'float32', new Float32Array([pooledCount])));
    y = r.run('Multiply', { a: y, b: count });
  }
  return y;
}

/** Whether a reduction of `x` over `axes` takes the path above (float32, a non-innermost run). */
function worthIt(x: TensorInfo, axes: readonly number[]): boolean {
  if (x.dtype !== 'float32' || x.shape.some((d) => d === 0)) return false;
  const segments = axisRuns(x.shape, axes);
  return segments.some((s, i) => s.marked && i < segments.length - 1);
}

/** Sum or Mean for wasm: `reduceWithoutTranspose` where it avoids a transpose, stock otherwise. */
function reduceConfig(kernelName: typeof tf.Sum | typeof tf.Mean, backendName: string): tf.KernelConfig {
  return overStock(kernelName, backendName, ({ inputs, backend, attrs }, stock) => {
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape);
    if (!worthIt(x, axes)) return stock.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
    return KernelRunner.use(backend as tf.KernelBackend, backendName, (r) => {
      const y = reduceWithoutTranspose(r, x, axes, kernelName === tf.Sum ? 'sum' : 'mean', stock);
      const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      return r.reshape(y, shape);
    });
  });
}

export const sumConfig = (backendName: string) => reduceConfig(tf.Sum, backendName);
export const meanConfig = (backendName: string) => reduceConfig(tf.Mean, backendName);
