import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ASYNC_READ_BACKENDS, FewstepError, assertSyncRead, syncReadsAllowed } from '@fewstep/core';
import { asAsyncOnlyBackend, useTestBackend } from '@fewstep/testing';

beforeAll(async () => {
  await useTestBackend();
});

describe('the synchronous-read rule', () => {
  it('allows synchronous reads on the test backend and refuses them on webgpu, naming the async twin', async () => {
    expect(ASYNC_READ_BACKENDS).toEqual(['webgpu']);
    expect(syncReadsAllowed()).toBe(true);
    expect(() => assertSyncRead('f', 'await fAsync()')).not.toThrow();
    const backend = tf.getBackend();
    await asAsyncOnlyBackend(() => {
      expect(tf.getBackend()).toBe('webgpu');
      expect(syncReadsAllowed()).toBe(false);
      let err: FewstepError | undefined;
      try {
        assertSyncRead('f', 'await fAsync()');
      } catch (e) {
        err = e as FewstepError;
      }
      expect(err).toBeInstanceOf(FewstepError);
      expect(err!.message).toBe(
        'f: backend must allow synchronous reads (cpu, wasm, webgl), got webgpu, whose dataSync returns zeros and loses the device; use await fAsync() instead',
      );
      expect(err!.argument).toBe('backend');
    });
    expect(tf.getBackend()).toBe(backend);
    expect(tf.findBackendFactory('webgpu')).toBeNull();
  });
});
