import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FewstepError } from '@fewstep/core';
import { Conv2d, Linear, MLP, loadStateDict, saveSafetensors, saveSafetensorsAsync, stateDict, stateDictAsync } from '@fewstep/nn';
import { asAsyncOnlyBackend, expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(async () => {
  await useTestBackend();
});

describe('stateDictAsync / saveSafetensorsAsync', () => {
  it('give exactly what the synchronous versions give (names, PyTorch layouts, bytes)', async () => {
    const net = new MLP({ dim: 3, hiddenChannels: 8, numLayers: 2, embeddingChannels: 8, seed: 4 });
    const sync = stateDict(net, { prefix: 'model.' });
    const async = await expectNoLeak(() => stateDictAsync(net, { prefix: 'model.' }));
    expect(Object.keys(async)).toEqual(Object.keys(sync));
    for (const k of Object.keys(sync)) {
      expect(async[k].shape).toEqual(sync[k].shape);
      expect(Array.from(async[k].data)).toEqual(Array.from(sync[k].data));
    }
    const meta = { metadata: { a: '1' } };
    expect(Array.from(await saveSafetensorsAsync(net, meta))).toEqual(Array.from(saveSafetensors(net, meta)));
    expect(Array.from(await saveSafetensorsAsync(net, { dtype: 'BF16' }))).toEqual(Array.from(saveSafetensors(net, { dtype: 'BF16' })));
    net.dispose();
  });

  it('loadStateDict re-lays out tf.Tensor values on the device, equal to the host path', async () => {
    const conv = new Conv2d(2, 3, 3);
    const lin = new Linear(4, 5);
    for (const m of [conv, lin]) {
      m.namedEntries().forEach(([, e], i) => tf.tidy(() => e.variable.assign(tf.randomNormal(e.variable.shape, 0, 1, 'float32', i + 1))));
      const host = stateDict(m);
      const asTensors = Object.fromEntries(Object.entries(host).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
      const before = stateDict(m);
      for (const [, e] of m.namedEntries()) e.variable.assign(tf.zerosLike(e.variable));
      await expectNoLeak(() => loadStateDict(m, asTensors));
      const after = stateDict(m);
      for (const k of Object.keys(before)) expect(Array.from(after[k].data)).toEqual(Array.from(before[k].data));
      tf.dispose(Object.values(asTensors));
      m.dispose();
    }
  });

  it('errors: a non-module, a disposed tensor; on webgpu the sync versions name their async twins', async () => {
    await expect(stateDictAsync({} as never)).rejects.toThrow(/stateDictAsync: module must be a Module/);
    expect(() => stateDict(null as never)).toThrow(/stateDict: module must be a Module/);
    const lin = new Linear(2, 2);
    const w = tf.zeros([2, 2]);
    w.dispose();
    expect(() => loadStateDict(lin, { weight: w, bias: tf.zeros([2]) }, { strict: false })).toThrow(/tensors\[weight\] must be a live tensor/);
    await asAsyncOnlyBackend(() => {
      expect(() => stateDict(lin)).toThrow(FewstepError);
      expect(() => stateDict(lin)).toThrow(/stateDict: backend must allow synchronous reads .* use await stateDictAsync\(module\) instead/);
      expect(() => saveSafetensors(lin)).toThrow(/saveSafetensors: .*saveSafetensorsAsync/);
    });
    lin.dispose();
  });
});
