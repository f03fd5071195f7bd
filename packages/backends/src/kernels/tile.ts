import * as tf from '@tensorflow/tfjs';
import { KernelRunner } from '../kernel-runner';
import { overStock } from './over-stock';

type TensorInfo = tf.TensorInfo;

/**
 * Tile as one Concat of copies per tiled axis: stock wasm Tile is an element-by-element loop,
 * measured 14-24x slower than the equivalent concats (and ~76x an Add of the same size).
 */
export function tileByConcat(r: KernelRunner, x: TensorInfo, reps: number[]): TensorInfo {
  let y = x;
  reps.forEach((k, axis) => {
    if (k > 1) y = r.run('Concat', Array.from({ length: k }, () => y) as never, { axis });
  });
  return y;
}

/** Results smaller than this many elements use the stock kernel. */
export const STOCK_MAX_OUT = 4096;

export function tileConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Tile, backendName, ({ inputs, backend, attrs }, stock) => {
    const { x } = inputs as { x: TensorInfo };
    const { reps } = attrs as unknown as { reps: number[] };
    // Empty results, strings and small results: the stock kernel (a concat per tiled axis costs
    // a JS loop over the outer elements; below ~4K outputs stock's element loop is quicker).
    const outSize = x.shape.reduce((a, d, i) => a * d * reps[i], 1);
    if (x.dtype === 'string' || reps.some((k) => k < 1) || x.shape.some((d) => d === 0) || outSize < STOCK_MAX_OUT) {
      return stock.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
    }
    return KernelRunner.use(backend as tf.KernelBackend, backendName, (r) => tileByConcat(r, x, reps));
  });
}
