import * as tf from '@tensorflow/tfjs';
import { FewstepError } from './errors';

/**
 * Backends on which fewstep never reads a tensor synchronously. webgpu's `dataSync()` returns
 * zeros in headless Chromium and then loses the device (docs/reliability.md), so every read
 * there goes through `await tensor.data()`.
 */
export const ASYNC_READ_BACKENDS: readonly string[] = ['webgpu'];

/** True when the active backend can be read synchronously (cpu, wasm, webgl, tensorflow). */
export function syncReadsAllowed(): boolean {
  return !ASYNC_READ_BACKENDS.includes(tf.getBackend());
}

/**
 * Guards a synchronous public API: on a backend that must be read asynchronously it throws a
 * FewstepError naming the async twin, instead of silently reading zeros.
 */
export function assertSyncRead(where: string, asyncTwin: string): void {
  if (syncReadsAllowed()) return;
  throw new FewstepError(
    where,
    `backend must allow synchronous reads (cpu, wasm, webgl), got ${tf.getBackend()}, whose dataSync ` +
      `returns zeros and loses the device; use ${asyncTwin} instead`,
    'backend',
  );
}
