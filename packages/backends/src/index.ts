// @fewstep/backends: choose and initialise a tfjs backend, and give it the training kernels
// stock backends lack, get wrong, or run pathologically slowly.
export { initBackend, BACKEND_NAMES } from './init-backend';
export type { BackendChoice, BackendReport, InitBackendOptions } from './init-backend';
export {
  registerTrainingKernels,
  unregisterTrainingKernels,
  listTrainingKernels,
  registeredKernels,
} from './training-kernels';
export type { RegisterOptions } from './training-kernels';
export { ADD_N_CHUNK } from './kernels/add-n';
export { wasmSimdPool, wasmThreadGate } from './wasm-setup';
export { DEFAULT_MIN_FLOPS as THREAD_MIN_FLOPS, GATED_KERNELS } from './wasm-thread-gate';
export type { GateBucket, GateMode, ThreadGate } from './wasm-thread-gate';
