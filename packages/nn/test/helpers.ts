import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGolden, type Golden } from '@fewstep/testing';
import { readSafetensors, type HostTensor } from '@fewstep/nn';

export const FIXTURES = join(__dirname, 'fixtures');

/** A golden case and its weights (PyTorch state dict as host tensors). */
export function goldenWithWeights(name: string): { golden: Golden; weights: Record<string, HostTensor> } {
  const golden = loadGolden(FIXTURES, name);
  const weights = readSafetensors(readFileSync(join(FIXTURES, golden.weights as string))).tensors;
  return { golden, weights };
}

/** The entries of `weights` under `prefix.`, with the prefix removed. */
export function under(weights: Record<string, HostTensor>, prefix: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(weights)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}

export function input(golden: Golden, name: string): tf.Tensor {
  const g = golden.inputs[name];
  return tf.tensor(g.data, g.shape, 'float32');
}
