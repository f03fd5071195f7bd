import type * as tf from '@tensorflow/tfjs';
import { assembleModule, type WatFunction } from './assemble';

/** The parts of tfjs's wasm backend that our SIMD kernels use. */
interface WasmBackendParts {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

type Exports = Record<string, (...args: number[]) => void>;

// One instance per (heap, function set): the heap outlives backend re-registrations.
const instances = new WeakMap<WebAssembly.Memory, Map<readonly WatFunction[], Exports>>();
const supported = new Map<readonly WatFunction[], boolean>();

/** The heap of a wasm backend: the threaded build's shared memory or the single-threaded one's. */
export function heapMemory(backend: unknown): WebAssembly.Memory | null {
  const wasm = (backend as Partial<WasmBackendParts>).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** True when this platform runs wasm SIMD modules (every current browser and Node >= 16). */
export function simdSupported(functions: readonly WatFunction[]): boolean {
  let ok = supported.get(functions);
  if (ok === undefined) {
    ok = typeof WebAssembly === 'object' && WebAssembly.validate(assembleModule({ functions, sharedMemory: false }));
    supported.set(functions, ok);
  }
  return ok;
}

/**
 * `functions` assembled into a module over `backend`'s heap and instantiated (once per heap), or
 * null where the backend is not wasm. Modules stay under 4 KB: Chromium refuses to compile
 * bigger ones synchronously on the main thread.
 */
export function simdKernels(backend: unknown, functions: readonly WatFunction[]): Exports | null {
  return simdKernelsOn(heapMemory(backend), functions);
}

/** `functions` instantiated over `memory` (once per memory), or null without memory or SIMD. */
export function simdKernelsOn(memory: WebAssembly.Memory | null, functions: readonly WatFunction[]): Exports | null {
  if (memory === null || !simdSupported(functions)) return null;
  let perHeap = instances.get(memory);
  if (perHeap === undefined) instances.set(memory, (perHeap = new Map()));
  let exports = perHeap.get(functions);
  if (exports === undefined) {
    const sharedMemory = typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(assembleModule({ functions, sharedMemory }));
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Exports;
    perHeap.set(functions, exports);
  }
  return exports;
}

/** Byte address of a tensor's data on the wasm heap. */
export function heapAddress(backend: unknown, t: tf.TensorInfo): number {
  const entry = (backend as WasmBackendParts).dataIdMap.get(t.dataId);
  if (entry === undefined) throw new Error('@fewstep/backends: tensor is not on the wasm heap');
  return entry.memoryOffset;
}
