import * as tf from '@tensorflow/tfjs';
import { ASYNC_READ_BACKENDS, validate } from '@fewstep/core';

/** One kernel of ours: its name, why it exists, and its config for a backend. */
export interface TrainingKernel {
  kernelName: string;
  /** Backends this kernel is registered for by default. */
  backends: readonly string[];
  /** Why: 'missing' (stock backend lacks it), 'fix' (stock is wrong), 'fast' (stock is slow). */
  reason: 'missing' | 'fix' | 'fast';
  config: (backendName: string) => tf.KernelConfig;
  /** True for kernels that read their inputs back to JS synchronously (readSync): never on webgpu. */
  readsHost?: boolean;
  /** False where this platform cannot run the kernel (wasm SIMD absent): it is then not registered. */
  supported?: () => boolean;
}

/** Stock configs we replaced, per `kernel/backend`, so that registration can be undone. */
const replaced = new Map<string, tf.KernelConfig | null>();
const key = (kernelName: string, backendName: string) => `${kernelName}/${backendName}`;

/**
 * Registers `kernels` for `backendName` (those whose `backends` include it, unless `force`),
 * replacing and remembering stock kernels. Idempotent: a kernel we already registered is kept.
 * Returns the names registered by this call plus those already ours.
 */
export function registerKernels(
  backendName: string,
  kernels: readonly TrainingKernel[],
  opts: { only?: readonly string[]; force?: boolean } = {},
): string[] {
  const check = validate('registerTrainingKernels');
  if (typeof backendName !== 'string' || backendName.length === 0) {
    check.fail('backend', 'a backend name such as "wasm" or "cpu"', backendName);
  }
  if (tf.findBackendFactory(backendName) === null) {
    check.fail('backend', 'a tfjs backend that is registered (import its package first)', backendName);
  }
  const names: string[] = [];
  for (const k of kernels) {
    if (opts.only !== undefined && !opts.only.includes(k.kernelName)) continue;
    if (!opts.force && !k.backends.includes(backendName)) continue;
    if (k.readsHost && ASYNC_READ_BACKENDS.includes(backendName)) {
      // webgpu's synchronous read returns zeros and loses the device: a forced "all" skips these.
      if (opts.only === undefined) continue;
      check.fail('only', `kernels that do not read tensors back synchronously on ${backendName}`, `${k.kernelName} (a JS loop over readSync)`);
    }
    if (k.supported !== undefined && !k.supported()) continue;
    const id = key(k.kernelName, backendName);
    if (!replaced.has(id)) {
      const stock = tf.getKernel(k.kernelName, backendName);
      let config: tf.KernelConfig;
      try {
        config = k.config(backendName); // built first: some wrap the stock kernel
      } catch (e) {
        return check.fail('backend', `a backend with the stock kernels ${k.kernelName} builds on`, `${backendName} (${String(e)})`);
      }
      // A stock kernel's setup (wasm: binding its C++ function) runs when the backend
      // initialises, for registered kernels only: keep it running so restoring stock works.
      if (stock?.setupFunc !== undefined && config.setupFunc === undefined) {
        config = { ...config, setupFunc: stock.setupFunc };
      }
      replaced.set(id, stock ?? null);
      if (stock !== undefined) tf.unregisterKernel(k.kernelName, backendName);
      tf.registerKernel(config);
    }
    names.push(k.kernelName);
  }
  return names;
}

/** Restores the stock kernels of `backendName` (or of every backend) that we replaced. */
export function unregisterKernels(backendName?: string): string[] {
  const restored: string[] = [];
  for (const [id, stock] of [...replaced]) {
    const [kernelName, backend] = id.split('/');
    if (backendName !== undefined && backend !== backendName) continue;
    tf.unregisterKernel(kernelName, backend);
    if (stock !== null) tf.registerKernel(stock);
    replaced.delete(id);
    restored.push(kernelName);
  }
  return restored;
}

/** Kernel names of ours currently registered for `backendName`. */
export function registeredKernels(backendName: string): string[] {
  return [...replaced.keys()].filter((id) => id.endsWith(`/${backendName}`)).map((id) => id.split('/')[0]);
}
