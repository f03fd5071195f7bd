/**
 * Helpers for the "never read synchronously on webgpu" rule (issue 3): WebGPU in Node through
 * Dawn, a guard that turns every synchronous read into a thrown error (and counts attempts, so a
 * swallowed error still fails the test), and a stand-in async-only backend for cpu unit tests.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

/**
 * Makes WebGPU available in Node via the `webgpu` npm package (Dawn) on SwiftShader's Vulkan driver
 * (shipped by Debian's chromium). Returns null when ready, else why not (for a visible skip).
 * Call before importing `@tensorflow/tfjs-backend-webgpu` / `initBackend('webgpu')`.
 */
export async function setUpDawnWebGpu(): Promise<string | null> {
  const icd = process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!existsSync(icd)) return `no Vulkan driver at ${icd} (apt-get install chromium)`;
  process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let dawn: { create: (o: string[]) => unknown; globals: object };
  try {
    dawn = (await import(/* @vite-ignore */ 'webgpu')) as never;
  } catch (e) {
    return `the webgpu npm package does not load (${String(e).slice(0, 80)})`;
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as { requestAdapter: () => Promise<unknown> };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  if ((await gpu.requestAdapter()) === null) return 'Dawn found no adapter';
  return null;
}

/** webgpu's CPU-forwarding flag, or undefined where the webgpu backend is not loaded (flag unregistered). */
function cpuForward(): boolean | undefined {
  try {
    return tf.env().getBool('WEBGPU_CPU_FORWARD');
  } catch {
    return undefined;
  }
}

export interface SyncReadTrap {
  /** Every synchronous read attempted since the trap was set (caught or not): `what` and a stack line. */
  readonly attempts: string[];
  /** Puts the original methods back. */
  restore(): void;
}

/**
 * Replaces `Tensor.prototype.dataSync / arraySync / bufferSync` and the active backend's
 * `readSync` with functions that record the attempt and throw. Also turns off webgpu's CPU
 * forwarding of small ops (it reads CPU-resident inputs through readSync), so that what remains
 * is exactly what the SDK asks for.
 */
export function trapSyncReads(): SyncReadTrap {
  const attempts: string[] = [];
  const trap = (what: string) => () => {
    const where = new Error().stack?.split('\n').slice(2, 6).join(' | ') ?? '';
    attempts.push(`${what} at ${where}`);
    throw new Error(`synchronous read (${what}) on ${tf.getBackend()}`);
  };
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const backend = tf.backend() as unknown as Record<string, unknown>;
  const saved: [Record<string, unknown>, string, unknown][] = [];
  for (const name of ['dataSync', 'arraySync', 'bufferSync']) {
    saved.push([proto, name, proto[name]]);
    proto[name] = trap(`Tensor.${name}`);
  }
  saved.push([backend, 'readSync', backend.readSync]);
  backend.readSync = trap('backend.readSync');
  const forward = cpuForward();
  if (forward !== undefined) tf.env().set('WEBGPU_CPU_FORWARD', false);
  return {
    attempts,
    restore() {
      for (const [obj, name, fn] of saved) obj[name] = fn;
      if (forward !== undefined) tf.env().set('WEBGPU_CPU_FORWARD', forward);
    },
  };
}

/**
 * Runs `fn` with the active backend registered under the name 'webgpu' (a cpu backend in
 * disguise), so cpu unit tests reach the error paths of synchronous APIs, which check the backend
 * name before touching any tensor. Only when no real webgpu backend is registered.
 */
export async function asAsyncOnlyBackend<T>(fn: () => T | Promise<T>): Promise<T> {
  if (tf.findBackendFactory('webgpu') !== null) throw new Error('asAsyncOnlyBackend: a real webgpu backend is registered');
  await tf.ready(); // a backend is chosen, so there is one to go back to
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  const Cpu = tf.backend().constructor as new () => tf.KernelBackend;
  tf.registerBackend('webgpu', () => new Cpu());
  await tf.setBackend('webgpu');
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
    tf.removeBackend('webgpu');
  }
}
