import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, test } from 'vitest';
import { FewstepError, GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL } from '@fewstep/core';
import { registerKernels } from '../src/registry';
import {
  initBackend,
  listTrainingKernels,
  registerTrainingKernels,
  registeredKernels,
  unregisterTrainingKernels,
} from '@fewstep/backends';

afterAll(() => {
  unregisterTrainingKernels();
});

async function resolves(pkg: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ pkg);
    return true;
  } catch {
    return false;
  }
}

const hasNative = (await resolves('@tensorflow/tfjs-node-gpu')) || (await resolves('@tensorflow/tfjs-node'));

describe('initBackend', () => {
  test.skipIf(hasNative)('auto in Node without tfjs-node picks wasm (SIMD) and says why', async () => {
    const r = await initBackend('auto');
    expect(r.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(r.reason).toMatch(/auto chose wasm/);
    expect(r.reason).toMatch(/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/);
    expect(r.reason).toMatch(/webgpu: no navigator.gpu/);
    expect(r.reason).toMatch(/webgl: needs a browser/);
    expect(r.simd).toBe(true);
    expect(r.threads).toBeGreaterThanOrEqual(1);
    expect(r.kernelsRegistered).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'UnsortedSegmentSum', 'MaxPoolGrad']),
    );
    // The registered kernels are the ones tfjs now runs: a filter gradient works on wasm.
    const g = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'same').sum())(tf.ones([3, 3, 2, 1])));
    expect(g.shape).toEqual([3, 3, 2, 1]);
    g.dispose();
  });

  test.skipIf(!hasNative)('auto picks tensorflow when tfjs-node(-gpu) is installed', async () => {
    const r = await initBackend('auto');
    expect(r.backend).toBe('tensorflow');
  });

  test('tensorflow (tfjs-node) is an optional peer: skipped with a visible reason when absent', () => {
    if (!hasNative) console.info('[backends] @tensorflow/tfjs-node(-gpu) not installed: tensorflow-backend tests skipped');
    expect(typeof hasNative).toBe('boolean');
  });

  test('cpu as asked, with its fixes registered', async () => {
    const r = await initBackend('cpu');
    expect(r).toMatchObject({ backend: 'cpu', reason: 'cpu as asked', threads: 1 });
    expect(r.kernelsRegistered).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'ResizeNearestNeighborGrad']));
    expect(r.simd).toBeUndefined();
  });

  test('registerKernels: false registers nothing', async () => {
    unregisterTrainingKernels();
    const r = await initBackend('wasm', { registerKernels: false });
    expect(r.kernelsRegistered).toEqual([]);
    expect(registeredKernels('wasm')).toEqual([]);
  });

  test('an explicit order is honoured', async () => {
    const r = await initBackend('auto', { order: ['webgl', 'cpu'] });
    expect(r.backend).toBe('cpu');
    expect(r.reason).toBe('auto chose cpu (webgl: needs a browser)');
  });

  test('errors name the argument, the expectation and the value', async () => {
    await expect(initBackend('metal' as never)).rejects.toThrow(FewstepError);
    await expect(initBackend('metal' as never)).rejects.toThrow(/initBackend: name must be one of .*got "metal"/);
    await expect(initBackend('wasm', { threads: 0 })).rejects.toThrow(/threads must be an integer >= 1, got 0/);
    await expect(initBackend('wasm', { wasmPaths: 3 as never })).rejects.toThrow(/wasmPaths must be a folder prefix or a map/);
    await expect(initBackend('auto', { order: ['cpu', 'vulkan' as never] })).rejects.toThrow(/order\[1\] must be one of/);
    await expect(initBackend('webgl')).rejects.toThrow(/name must be a backend this platform can initialise, got "webgl \(webgl: needs a browser\)"/);
  });
});

describe('registerTrainingKernels', () => {
  test('is idempotent and reversible', async () => {
    await initBackend('wasm', { registerKernels: false });
    const stock = tf.getKernel('Conv2DBackpropInput', 'wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    const first = registerTrainingKernels('wasm');
    const ours = tf.getKernel('Conv2DBackpropInput', 'wasm');
    expect(ours).not.toBe(stock);
    expect(registerTrainingKernels('wasm')).toEqual(first);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(ours);
    expect(unregisterTrainingKernels('wasm').sort()).toEqual([...first].sort());
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(stock);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
  });

  test('a kernel the platform cannot run (supported() false) is skipped; the fused GroupNorm pair is registered with SIMD', async () => {
    await initBackend('wasm', { registerKernels: false });
    const config = (backendName: string): tf.KernelConfig => ({ kernelName: 'FewstepNoSuchPlatform', backendName, kernelFunc: () => ({}) as never });
    const kernel = { kernelName: 'FewstepNoSuchPlatform', backends: ['wasm'], reason: 'fast' as const, config, supported: () => false };
    expect(registerKernels('wasm', [kernel])).toEqual([]);
    expect(tf.getKernel('FewstepNoSuchPlatform', 'wasm')).toBeUndefined();
    expect(registerKernels('wasm', [{ ...kernel, supported: () => true }])).toEqual(['FewstepNoSuchPlatform']);
    unregisterTrainingKernels('wasm');
    expect(tf.getKernel('FewstepNoSuchPlatform', 'wasm')).toBeUndefined();
    expect(registerTrainingKernels('wasm')).toEqual(expect.arrayContaining([GROUP_NORM_KERNEL, GROUP_NORM_GRAD_KERNEL, 'Transpose', 'Concat']));
    unregisterTrainingKernels('wasm');
  });

  test('only / force select kernels', () => {
    unregisterTrainingKernels();
    expect(registerTrainingKernels('cpu', { only: ['ResizeNearestNeighborGrad'] })).toEqual(['ResizeNearestNeighborGrad']);
    expect(registerTrainingKernels('cpu', { only: ['UnsortedSegmentSum'], force: true })).toContain('UnsortedSegmentSum');
    unregisterTrainingKernels('cpu');
    expect(registeredKernels('cpu')).toEqual([]);
  });

  test('lists what it provides and why', () => {
    const list = listTrainingKernels();
    expect(list.find((k) => k.kernelName === 'Conv2DBackpropFilter')).toMatchObject({ reason: 'missing' });
    expect(list.find((k) => k.kernelName === 'ResizeNearestNeighborGrad')).toMatchObject({ backends: ['cpu', 'wasm'], reason: 'fix' });
  });

  test('a bad backend name is a FewstepError', () => {
    expect(() => registerTrainingKernels('')).toThrow(/registerTrainingKernels: backend must be a backend name/);
    expect(() => registerTrainingKernels(42 as never)).toThrow(FewstepError);
    expect(() => registerTrainingKernels('nosuch')).toThrow(/backend must be a tfjs backend that is registered .*got "nosuch"/);
  });
});
