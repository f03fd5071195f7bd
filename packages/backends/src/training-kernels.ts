import { TRAINING_KERNELS } from './kernels';
import { registerKernels, registeredKernels, unregisterKernels } from './registry';

export interface RegisterOptions {
  /** Register only these kernel names (default: all of ours for the backend). */
  only?: readonly string[];
  /** Register even kernels not meant for this backend (they compose its stock forward kernels). */
  force?: boolean;
}

/**
 * Registers our training kernels and fixes for `backend` ('wasm', 'cpu', 'webgpu', ...).
 * Explicit, idempotent and reversible (`unregisterTrainingKernels`); nothing happens on import.
 * Returns the kernel names now ours on that backend.
 */
export function registerTrainingKernels(backend: string, opts: RegisterOptions = {}): string[] {
  registerKernels(backend, TRAINING_KERNELS, opts);
  return registeredKernels(backend);
}

/** Restores the stock kernels of `backend` (or of every backend when omitted). */
export function unregisterTrainingKernels(backend?: string): string[] {
  return unregisterKernels(backend);
}

/** What we provide: kernel name, default backends, and why (missing / fix / fast). */
export function listTrainingKernels(): { kernelName: string; backends: readonly string[]; reason: string }[] {
  return TRAINING_KERNELS.map(({ kernelName, backends, reason }) => ({ kernelName, backends, reason }));
}

export { registeredKernels };
