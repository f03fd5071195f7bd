import * as tf from '@tensorflow/tfjs';
import { KernelRunner } from '../kernel-runner';
import { overStock } from './over-stock';

type Paddings = [number, number][];

/**
 * The same pad over fewer dimensions: each padded dimension absorbs the unpadded dimensions after
 * it (padding the outer dim of [a, b] by (p, q) is padding [a * b] by (p * b, q * b)), and leading
 * unpadded dimensions merge into one.
 */
export function mergePadDims(shape: readonly number[], paddings: Paddings): { shape: number[]; paddings: Paddings } {
  const outShape: number[] = [];
  const outPads: Paddings = [];
  shape.forEach((size, i) => {
    const [before, after] = paddings[i];
    if (i === 0 || before !== 0 || after !== 0) {
      outShape.push(size);
      outPads.push([before, after]);
    } else {
      const g = outShape.length - 1;
      outShape[g] *= size;
      outPads[g] = [outPads[g][0] * size, outPads[g][1] * size];
    }
  });
  return { shape: outShape, paddings: outPads };
}

/**
 * PadV2 for webgl and webgpu, whose stock shaders are broken for rank 5+: webgl's packed shader
 * compares `ivec5` values with `lessThan`, which GLSL does not define, so it fails to compile;
 * webgpu's WGSL indexes a `vec5` and is rejected, and the op silently returns garbage. nn's zero
 * insertion (EDM's FIR up-sampling) pads rank-5 tensors. Pads of rank > 4 run on the merged
 * dimensions instead (rank <= 4 whenever at most 3 dimensions beyond the first are padded).
 */
export function padConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.PadV2, backendName, (args, stock) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { paddings, constantValue } = args.attrs as unknown as { paddings: Paddings; constantValue: number };
    const merged = mergePadDims(x.shape, paddings);
    if (x.shape.length <= 4 || merged.shape.length > 4) return stock.kernelFunc(args);
    const outShape = x.shape.map((s, i) => s + paddings[i][0] + paddings[i][1]);
    return KernelRunner.use(args.backend as tf.KernelBackend, backendName, (r) => {
      const flat = r.reshape(x, merged.shape);
      const attrs = { paddings: merged.paddings, constantValue } as unknown as tf.NamedAttrMap;
      const padded = r.track(stock.kernelFunc({ inputs: { x: flat }, attrs, backend: r.backend }) as tf.TensorInfo);
      return r.reshape(padded, outShape);
    });
  });
}
