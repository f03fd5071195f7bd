import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FewstepError, seededNoise } from '@fewstep/core';
import {
  classifierAccuracy,
  classifierAccuracyAsync,
  createMnistClassifier,
  frechetDistance,
  imageGrid,
  imageGridAsync,
  imageGridPng,
  imageGridPngAsync,
  mmdUnbiased,
  mnistFrechetDistance,
  mnistFrechetDistanceAsync,
  readFeatures,
  saveClassifierWeights,
  saveClassifierWeightsAsync,
  slicedWasserstein,
  trainMnistClassifier,
  trainMnistClassifierAsync,
} from '@fewstep/eval';
import { asAsyncOnlyBackend, expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

function tiny(seed: number) {
  const model = createMnistClassifier({ inputSize: 8, hidden: 8, featureDim: 4, seed });
  const images = tf.tidy(() => tf.tanh(seededNoise(seed).normal([6, 8, 8, 1])) as tf.Tensor4D);
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
  return { model, images, labels, dispose: () => (tf.dispose([images, labels]), model.dispose()) };
}

describe('the async twins of the eval reads give the synchronous values', () => {
  it('trainMnistClassifierAsync: the same losses and weights as trainMnistClassifier', async () => {
    const a = tiny(1);
    const b = tiny(1);
    const opts = { epochs: 2, batchSize: 4, learningRate: 1e-2, seed: 3 };
    const seen: number[] = [];
    const la = trainMnistClassifier(a.model, a.images, a.labels, opts);
    const lb = await expectNoLeak(() => trainMnistClassifierAsync(b.model, b.images, b.labels, { ...opts, onStep: (_, l) => seen.push(l) }));
    expect(lb).toEqual(la);
    expect(seen).toEqual(la);
    expect(Array.from(await saveClassifierWeightsAsync(b.model, { k: 'v' }))).toEqual(Array.from(saveClassifierWeights(a.model, { k: 'v' })));
    expect(await classifierAccuracyAsync(b.model, b.images, b.labels, { batchSize: 4 })).toBe(classifierAccuracy(a.model, a.images, a.labels, { batchSize: 4 }));
    expect(await expectNoLeak(() => mnistFrechetDistanceAsync(b.model, b.images, a.images))).toBe(mnistFrechetDistance(a.model, a.images, b.images));
    a.dispose();
    b.dispose();
  });

  it('readFeatures makes any metric usable from an async read', async () => {
    const x = tf.tidy(() => seededNoise(4).normal([12, 3])) as tf.Tensor2D;
    const y = tf.tidy(() => seededNoise(5).normal([10, 3]).add(0.5)) as tf.Tensor2D;
    const rx = await expectNoLeak(() => readFeatures(x));
    const ry = await readFeatures(y);
    expect(rx).toMatchObject({ dim: 3 });
    expect(frechetDistance(rx, ry)).toBe(frechetDistance(x, y));
    expect(mmdUnbiased(rx, ry)).toBe(mmdUnbiased(x, y));
    expect(slicedWasserstein(rx, ry)).toBe(slicedWasserstein(x, y));
    const rows = [[1, 2], [3, 4]];
    expect(await readFeatures(rows)).toBe(rows);
    const v = tf.tensor1d([1, 2, 3]);
    expect(await readFeatures(v)).toMatchObject({ dim: 1 });
    await expect(readFeatures(tf.zeros([1, 1, 1]) as never)).rejects.toThrow(/readFeatures: x must be .*rank/);
    tf.dispose([x, y, v]);
  });

  it('imageGridPngAsync: the same bytes as imageGridPng (tensor and array input)', async () => {
    const t = tf.tidy(() => tf.tanh(seededNoise(6).normal([5, 3, 4, 3])) as tf.Tensor4D);
    const parts = tf.unstack(t) as tf.Tensor3D[];
    expect(Array.from(await imageGridPngAsync(t, { cols: 2 }))).toEqual(Array.from(imageGridPng(t, { cols: 2 })));
    expect(Array.from(await imageGridPngAsync(parts))).toEqual(Array.from(imageGridPng(parts)));
    expect((await imageGridAsync(parts)).data).toEqual(imageGrid(t).data);
    await expect(imageGridPngAsync(t, { cols: 0 })).rejects.toThrow(/imageGridAsync: options.cols must be an integer >= 1/);
    tf.dispose([t, ...parts]);
  });

  it('on webgpu every synchronous read names its async twin (nothing computed or read)', async () => {
    const a = tiny(2);
    const f = tf.zeros([3, 2]) as tf.Tensor2D;
    await asAsyncOnlyBackend(() => {
      const cases: [() => unknown, RegExp][] = [
        [() => classifierAccuracy(a.model, a.images, a.labels), /classifierAccuracy: .*classifierAccuracyAsync\(model, images, labels\)/],
        [() => trainMnistClassifier(a.model, a.images, a.labels), /trainMnistClassifier: .*trainMnistClassifierAsync/],
        [() => saveClassifierWeights(a.model), /saveClassifierWeights: .*saveClassifierWeightsAsync\(model\)/],
        [() => mnistFrechetDistance(a.model, a.images, a.images), /mnistFrechetDistance: .*mnistFrechetDistanceAsync/],
        [() => frechetDistance(f, f), /frechetDistance: .*await readFeatures\(a\) and pass its \{data, dim\}/],
        [() => mmdUnbiased([[1], [2]], f), /mmdUnbiased: .*readFeatures\(y\)/],
        [() => imageGrid(a.images), /imageGrid: .*await imageGridAsync\(images, options\)/],
        [() => imageGridPng(a.images), /imageGridPng: .*imageGridPngAsync/],
      ];
      for (const [fn, message] of cases) {
        expect(fn).toThrow(FewstepError);
        expect(fn).toThrow(message);
      }
    });
    f.dispose();
    a.dispose();
  });
});
