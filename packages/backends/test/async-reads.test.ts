import { afterAll, describe, expect, test } from 'vitest';
import { FewstepError } from '@fewstep/core';
import { listTrainingKernels, registerTrainingKernels, registeredKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { asAsyncOnlyBackend } from '@fewstep/testing';

afterAll(() => {
  unregisterTrainingKernels();
});

// The Dawn test (webgpu-node) checks the same on a real webgpu backend, where it is available.
describe('kernels that read synchronously never run on webgpu', () => {
  test('forcing one onto webgpu by name is a FewstepError naming it; nothing is registered', async () => {
    await asAsyncOnlyBackend(() => {
      for (const name of ['UnsortedSegmentSum', 'MaxPoolGrad', 'ResizeNearestNeighborGrad']) {
        const force = () => registerTrainingKernels('webgpu', { only: [name], force: true });
        expect(force).toThrow(FewstepError);
        expect(force).toThrow(new RegExp(`only must be kernels that do not read tensors back synchronously on webgpu, got "${name} \\(a JS loop over readSync\\)"`));
      }
      expect(registeredKernels('webgpu')).toEqual([]);
    });
  });

  test('they are the host-reading ones, and none of them is registered for webgpu by default', () => {
    const onWebgpu = listTrainingKernels().filter((k) => k.backends.includes('webgpu')).map((k) => k.kernelName);
    expect(onWebgpu).toEqual(['AddN', 'PadV2']);
  });
});
