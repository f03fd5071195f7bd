import { FewstepError, type NoiseState } from '@fewstep/core';
import type { SavedLoss, SavedOptimizer } from './state';

export const FORMAT = 'fewstep-checkpoint';
export const VERSION = 1;

/**
 * The JSON manifest of one checkpoint. It is written last and is the commit point: a checkpoint
 * exists once its manifest does, and the manifest names the (content-addressed) tensors file.
 */
export interface CheckpointManifest {
  format: typeof FORMAT;
  version: number;
  name: string;
  step: number;
  createdAt: string;
  /** The safetensors file holding every tensor, and its SHA-256 and size. */
  tensorsFile: string;
  fileSha256: string;
  fileBytes: number;
  /** Every tensor: shape (as stored) and SHA-256 of its little-endian float32 bytes. */
  tensors: Record<string, { shape: number[]; sha256: string }>;
  /** Module roles and the tensor names (without the `module/<role>/` prefix) each holds. */
  modules: Record<string, string[]>;
  optimizer?: SavedOptimizer;
  emas: Record<string, { updates: number; count: number }>;
  noise: Record<string, NoiseState>;
  losses: Record<string, SavedLoss>;
  metadata: Record<string, unknown>;
}

export function manifestKey(name: string): string {
  return `${name}.ckpt.json`;
}

export function tensorsKey(name: string, sha: string): string {
  return `${name}.${sha.slice(0, 16)}.safetensors`;
}

/** Parses and sanity-checks manifest bytes; `where` names the caller in errors. */
export function parseManifest(where: string, key: string, bytes: Uint8Array): CheckpointManifest {
  let m: CheckpointManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FewstepError(where, `manifest ${key} must be JSON, got unparsable bytes (${(e as Error).message})`, 'manifest');
  }
  if (m?.format !== FORMAT) throw new FewstepError(where, `manifest ${key} must have format "${FORMAT}", got ${JSON.stringify(m?.format)}`, 'manifest');
  if (m.version !== VERSION) throw new FewstepError(where, `manifest ${key} must have version ${VERSION}, got ${JSON.stringify(m.version)}`, 'manifest');
  const fields: [keyof CheckpointManifest, string][] = [
    ['name', 'string'], ['step', 'number'], ['tensorsFile', 'string'], ['fileSha256', 'string'], ['fileBytes', 'number'],
    ['tensors', 'object'], ['modules', 'object'], ['emas', 'object'], ['noise', 'object'], ['losses', 'object'], ['metadata', 'object'],
  ];
  for (const [f, type] of fields) {
    if (typeof m[f] !== type || m[f] === null) {
      throw new FewstepError(where, `manifest ${key} must have a ${type} field "${f}", got ${JSON.stringify(m[f])}`, 'manifest');
    }
  }
  return m;
}
