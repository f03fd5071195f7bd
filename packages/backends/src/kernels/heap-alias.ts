import type * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;

/** The parts of tfjs's wasm backend an alias needs: its tensor table and the C++ registry. */
interface WasmTables {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined; delete(dataId: object): void };
  wasm: { tfjs: { disposeData(id: number): void } };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
}

/**
 * Runs `body` with a float32 tensor of `shape` whose data is `owner`'s memory from element
 * `start` on (no copy), then unregisters it without freeing: the memory stays `owner`'s.
 */
export function withHeapAlias<T>(backendIn: unknown, owner: TensorInfo, start: number, shape: number[], body: (alias: TensorInfo) => T): T {
  const backend = backendIn as WasmTables;
  const size = shape.reduce((a, b) => a * b, 1);
  const ownerSize = owner.shape.reduce((a, b) => a * b, 1);
  if (start < 0 || start + size > ownerSize) throw new Error('@fewstep/backends: alias out of its owner tensor');
  const base = backend.dataIdMap.get(owner.dataId)?.memoryOffset;
  if (base === undefined) throw new Error('@fewstep/backends: alias of a tensor not on the wasm heap');
  const alias = backend.makeOutput(shape, 'float32', base + start * 4);
  try {
    return body(alias);
  } finally {
    const entry = backend.dataIdMap.get(alias.dataId);
    if (entry !== undefined) backend.wasm.tfjs.disposeData(entry.id);
    backend.dataIdMap.delete(alias.dataId);
  }
}

/** True for a wasm backend whose tensors can be aliased (its tables are as withHeapAlias expects). */
export function heapAliases(backend: unknown): boolean {
  const b = backend as Partial<WasmTables>;
  return typeof b.dataIdMap?.get === 'function' && typeof b.wasm?.tfjs?.disposeData === 'function' && typeof b.makeOutput === 'function';
}
