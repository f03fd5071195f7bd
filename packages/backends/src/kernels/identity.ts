import * as tf from '@tensorflow/tfjs';
import { overStock, type WasmHeap } from './over-stock';

type TensorInfo = tf.TensorInfo;

/** The refcount side of a backend (wasm has it, as its Reshape shares data this way). */
interface RefCounted {
  incRef(dataId: tf.DataId): void;
}

/**
 * A same-dtype copy that shares the input's data (one more reference) instead of copying it,
 * as cpu and webgl already do. Tensor data is never written in place, so sharing is safe.
 * Why it matters on wasm: every tensor a gradient saves is cloned through Identity (the engine's
 * `clone`), and the tape differentiates that clone with a same-dtype Cast: ~1,800 Identity and
 * ~450 Cast calls per unet-s32 training step, each a full copy of an activation.
 */
function share(backend: tf.KernelBackend, x: TensorInfo): TensorInfo {
  (backend as unknown as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const canShare = (backend: tf.KernelBackend, x: TensorInfo) =>
  x.dtype !== 'string' && typeof (backend as unknown as Partial<RefCounted>).incRef === 'function';

export function identityConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Identity, backendName, (args, stock) => {
    const x = args.inputs.x as TensorInfo;
    const backend = args.backend as tf.KernelBackend;
    return canShare(backend, x) ? share(backend, x) : stock.kernelFunc(args);
  });
}

/**
 * x != 0 as bool. Stock wasm's Cast to bool copies the values into a Uint8Array, so -2 becomes
 * 254 and 0.5 becomes 0 (cpu gives 1 for both).
 */
function toBool(backend: WasmHeap, x: TensorInfo): TensorInfo {
  const out = backend.makeOutput([...x.shape], 'bool');
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < dst.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
  return out;
}

/**
 * Cast to the dtype it already has: shared like Identity; to bool from numbers: x != 0 (stock
 * wasm wraps instead); other conversions: the stock kernel.
 */
export function castConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.Cast, backendName, (args, stock) => {
    const x = args.inputs.x as TensorInfo;
    const backend = args.backend as tf.KernelBackend;
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    if (dtype === x.dtype && canShare(backend, x)) return share(backend, x);
    const heap = backend as unknown as Partial<WasmHeap>;
    if (dtype === 'bool' && x.dtype !== 'string' && heap.makeOutput && heap.typedArrayFromHeap) return toBool(heap as WasmHeap, x);
    return stock.kernelFunc(args);
  });
}
