import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { initBackend, registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { setUpDawnWebGpu } from '@fewstep/testing';
import { relError, seeded } from './helpers';
import { gradsOn } from './small-net';

// WebGPU in Node through the `webgpu` npm package (Dawn) on SwiftShader's Vulkan driver, which
// Debian's chromium package ships. Skipped, with the reason printed, where either is missing.
const skipReason = await setUpDawnWebGpu();
if (skipReason !== null) console.info(`[backends] webgpu-in-Node tests skipped: ${skipReason}`);

afterAll(() => {
  unregisterTrainingKernels();
});

describe.skipIf(skipReason !== null)('webgpu in Node (Dawn, SwiftShader)', () => {
  test('auto picks webgpu and registers its AddN and PadV2 fixes', async () => {
    const r = await initBackend('auto', { order: ['webgpu', 'wasm', 'cpu'] });
    expect(r.backend).toBe('webgpu');
    expect(r.kernelsRegistered).toEqual(['AddN', 'PadV2']);
  });

  test('AddN with 8 and 20 inputs: stock is wrong, ours is right', async () => {
    const inputs = (k: number) => Array.from({ length: k }, (_, i) => seeded([4, 6], i + 1));
    const sumOn = async (backend: string, k: number, fn: (t: tf.Tensor[]) => tf.Tensor) => {
      await tf.setBackend(backend);
      const ts = inputs(k);
      const out = fn(ts);
      const v = Float32Array.from(await out.data());
      tf.dispose([out, ...ts]);
      return v;
    };
    for (const k of [8, 20]) {
      const ref = await sumOn('cpu', k, (ts) => ts.reduce((a, b) => a.add(b)));
      // Stock first: its failed pipeline writes nothing, so a pooled output buffer that held a
      // correct sum would hide the bug.
      unregisterTrainingKernels('webgpu');
      const stock = await sumOn('webgpu', k, (ts) => tf.addN(ts));
      registerTrainingKernels('webgpu');
      const ours = await sumOn('webgpu', k, (ts) => tf.addN(ts));
      expect(relError(ours, ref)).toBeLessThan(1e-5);
      expect(relError(stock, ref)).toBeGreaterThan(1e-3);
    }
    registerTrainingKernels('webgpu');
  });

  test('rank-5 PadV2 (nn zero insertion): stock returns garbage, ours matches cpu', async () => {
    const padOn = async (backend: string) => {
      await tf.setBackend(backend);
      const x = seeded([2, 3, 4, 5, 3], 9);
      const out = tf.pad(x, [[0, 0], [1, 0], [0, 1], [0, 0], [2, 1]], 0.5);
      const v = Float32Array.from(await out.data());
      tf.dispose([x, out]);
      return v;
    };
    const ref = await padOn('cpu');
    unregisterTrainingKernels('webgpu');
    const stock = await padOn('webgpu');
    registerTrainingKernels('webgpu');
    expect(relError(await padOn('webgpu'), ref)).toBe(0);
    expect(relError(stock, ref)).toBeGreaterThan(1e-3);
  });

  test('the small conv net has the same gradients on webgpu as on cpu', async () => {
    registerTrainingKernels('webgpu');
    registerTrainingKernels('cpu', { only: ['ResizeNearestNeighborGrad'] });
    const gpu = await gradsOn('webgpu');
    const cpu = await gradsOn('cpu');
    expect(Math.abs(gpu.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-4);
    for (const name of Object.keys(cpu.grads)) {
      expect(relError(gpu.grads[name], cpu.grads[name]), name).toBeLessThan(1e-4);
    }
  });
});
