import * as tf from '@tensorflow/tfjs';

type KernelResult = tf.TensorInfo | tf.TensorInfo[];

/**
 * A kernel config that replaces a backend's stock kernel and may fall back to it: the stock config
 * is captured now (before ours replaces it in the registry), and its setup and dispose (wasm:
 * binding the C++ function) still run when the backend initialises.
 */
export function overStock(
  kernelName: string,
  backendName: string,
  kernelFunc: (args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig) => KernelResult,
): tf.KernelConfig {
  const stock = tf.getKernel(kernelName, backendName);
  if (stock === undefined) throw new Error(`@fewstep/backends: backend ${backendName} has no ${kernelName}`);
  return {
    kernelName,
    backendName,
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
    kernelFunc: (args) => kernelFunc(args, stock),
  };
}

/** wasm's heap access (as its own kernels write outputs). */
export interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}
