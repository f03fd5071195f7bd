/**
 * @fewstep/train — training-loop utilities: crash-safe checkpoints (safetensors + a JSON manifest
 * with SHA-256 checksums) in Node, IndexedDB or memory, exact resume, and a guard that skips
 * non-finite training steps.
 */
export type { CheckpointStore } from './store';
export { MemoryStore } from './store';
export { NodeStore } from './node-store';
export { IndexedDbStore } from './indexeddb-store';
export { sha256Hex } from './checksum';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, verifyCheckpoint } from './checkpoint';
export type { SaveOptions, LoadOptions, LoadedCheckpoint, VerifiedCheckpoint, CheckpointManifest } from './checkpoint';
export type { TrainingState, RestoreTargets, Checkpointable, LossWithState } from './state';
export { StepGuard } from './guard';
export type { StepGuardOptions, GuardedStepArgs, GuardedStepResult, GuardEvent, GuardParams } from './guard';
