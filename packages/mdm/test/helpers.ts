import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGolden, toTensor, type Golden } from '@fewstep/testing';

export const FIXTURES = join(__dirname, 'fixtures');

export function golden(name: string): Golden {
  return loadGolden(FIXTURES, name);
}

export function input(g: Golden, key: string): tf.Tensor {
  const t = g.inputs[key];
  if (!t) throw new Error(`${g.name}: no input ${key}`);
  return toTensor(t);
}

/** The `param.<name>` inputs of a block golden as a PyTorch-layout state dict. */
export function goldenParams(g: Golden): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(g.inputs)) {
    if (k.startsWith('param.')) out[k.slice(6)] = { shape: v.shape, data: Float32Array.from(v.data) };
  }
  return out;
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}
