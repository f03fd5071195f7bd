import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
type Case = { x: [number, number, number, number]; w: [number, number, number, number]; s: number | [number, number]; pad: Pad };

// Channel multiplier 1 and > 1, strides 1 and 2, odd sizes, batch 1 and > 1, every padding mode.
const CASES: Case[] = [
  { x: [2, 7, 7, 3], w: [3, 3, 3, 1], s: 1, pad: 'same' },
  { x: [1, 7, 6, 3], w: [3, 3, 3, 2], s: 1, pad: 'valid' },
  { x: [2, 8, 8, 4], w: [3, 3, 4, 1], s: 2, pad: 'same' },
  { x: [2, 9, 9, 2], w: [3, 3, 2, 3], s: 2, pad: 'same' },
  { x: [3, 8, 8, 2], w: [2, 2, 2, 1], s: 2, pad: 'valid' },
  { x: [2, 8, 8, 3], w: [4, 4, 3, 1], s: 1, pad: [[0, 0], [2, 1], [1, 2], [0, 0]] },
  { x: [2, 10, 7, 2], w: [5, 3, 2, 2], s: [2, 1], pad: 'same' },
  { x: [1, 5, 5, 4], w: [1, 1, 4, 2], s: 1, pad: 'valid' },
];

const label = (c: Case) => `x=[${c.x}] w=[${c.w}] s=${c.s} pad=${JSON.stringify(c.pad)}`;

function depthwiseGrads(c: Case): tf.Tensor[] {
  const x = seeded(c.x, 5);
  const w = seeded(c.w, 9);
  return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad).square().sum(),
  )([x, w]);
}

describe('DepthwiseConv2dNativeBackpropInput / Filter', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test.each(CASES.map((c) => [label(c), c] as const))('wasm matches stock cpu: %s', async (_, c) => {
    const [dx, dw] = await onBackend('wasm', () => depthwiseGrads(c));
    const [ex, ew] = await onBackend('cpu', () => depthwiseGrads(c));
    expect(relError(dx, ex)).toBeLessThan(1e-4);
    expect(relError(dw, ew)).toBeLessThan(1e-4);
  });

  test('stock wasm has no depthwise gradient', async () => {
    unregisterTrainingKernels('wasm');
    await expect(onBackend('wasm', () => depthwiseGrads(CASES[0]))).rejects.toThrow(/DepthwiseConv2dNativeBackprop/);
    registerTrainingKernels('wasm');
  });

  test('no tensor or wasm data leaks', async () => {
    await tf.setBackend('wasm');
    for (const c of [CASES[1], CASES[3]]) expectNoBackendLeak(() => depthwiseGrads(c));
  });
});
