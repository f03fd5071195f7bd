import * as tf from '@tensorflow/tfjs';
import { KernelRunner } from '../kernel-runner';

/**
 * The same slice over fewer dimensions: a dimension taken whole merges into the one before it
 * (rows [b, b + s) of [a, c] taken whole along c are elements [b c, (b + s) c) of [a c]).
 */
export function mergeSliceDims(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const out = { shape: [] as number[], begin: [] as number[], size: [] as number[] };
  shape.forEach((n, i) => {
    const whole = begin[i] === 0 && size[i] === n;
    const g = out.shape.length - 1;
    if (g < 0 || !whole) {
      out.shape.push(n);
      out.begin.push(begin[i]);
      out.size.push(size[i]);
    } else {
      out.shape[g] *= n;
      out.begin[g] *= n;
      out.size[g] *= n;
    }
  });
  return out;
}

/**
 * Slice for wasm: the stock kernel has fast paths up to rank 4 and a generic per-element loop
 * beyond (a rank-5 slice of [16, 32, 16, 2, 64] took ~300x an Add; it is the gradient of nn's
 * rank-5 zero-insertion pads in FIR up-sampling). Slices of rank > 4 run on merged dimensions.
 */
export function sliceConfig(backendName: string): tf.KernelConfig {
  const stock = tf.getKernel(tf.Slice, backendName);
  if (stock === undefined) throw new Error(`@fewstep/backends: backend ${backendName} has no Slice`);
  return {
    kernelName: tf.Slice,
    backendName,
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.shape.length <= 4) return stock.kernelFunc(args);
      const attrs = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
      const merged = mergeSliceDims(x.shape, begin, size);
      if (merged.shape.length > 4) return stock.kernelFunc(args);
      return KernelRunner.use(args.backend as tf.KernelBackend, backendName, (r) => {
        const flat = r.reshape(x, merged.shape);
        const mergedAttrs = { begin: merged.begin, size: merged.size } as unknown as tf.NamedAttrMap;
        const part = r.track(stock.kernelFunc({ inputs: { x: flat }, attrs: mergedAttrs, backend: r.backend }) as tf.TensorInfo);
        return r.reshape(part, size);
      });
    },
  };
}
