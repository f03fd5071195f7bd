import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import { loadMnist, mnistImagesTensor, mnistLabelsTensor } from '@fewstep/data';
import {
  classifierAccuracy,
  createMnistClassifier,
  loadClassifierWeights,
  mnistFeatures,
  mnistFrechetDistance,
  saveClassifierWeights,
  trainMnistClassifier,
} from '@fewstep/eval';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('MNIST classifier', () => {
  const train = loadMnist({ split: 'train', limit: 600 });
  const test = loadMnist({ split: 'test', limit: 400 });

  it('beats chance by far after a short training on 600 images (held-out accuracy)', async () => {
    const model = createMnistClassifier({ seed: 1, hidden: 128 });
    const x = mnistImagesTensor(train, range(600));
    const y = mnistLabelsTensor(train, range(600));
    const xt = mnistImagesTensor(test, range(400));
    const yt = mnistLabelsTensor(test, range(400));
    const before = classifierAccuracy(model, xt, yt);
    const losses = await expectNoLeak(() => trainMnistClassifier(model, x, y, { epochs: 3, batchSize: 50, learningRate: 3e-3, seed: 1 }));
    expect(losses.length).toBe(3 * 12);
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(first / 3);
    const after = await expectNoLeak(() => classifierAccuracy(model, xt, yt, { batchSize: 128 }));
    // Chance is 0.1; a 3-epoch MLP on 600 images reaches about 0.8 on held-out digits.
    expect(after).toBeGreaterThan(0.6);
    expect(after).toBeGreaterThan(before + 0.3);
    console.log(`classifier: held-out accuracy ${before.toFixed(3)} -> ${after.toFixed(3)} (400 test images)`);

    // Features: [N, 64], leak-free, and a Fréchet distance that separates real digits from noise.
    const f = await expectNoLeak(() => {
      const feats = mnistFeatures(model, xt, { batchSize: 150 });
      expect(feats.shape).toEqual([400, 64]);
      return feats;
    });
    expect(f.isDisposed).toBe(true);
    const noise = tf.clipByValue(tf.randomNormal([400, 28, 28, 1], 0, 0.5, 'float32', 3), -1, 1) as tf.Tensor4D;
    const xTrain400 = tf.slice(x, [0, 0, 0, 0], [400, -1, -1, -1]) as tf.Tensor4D;
    const same = await expectNoLeak(() => mnistFrechetDistance(model, xt, xt));
    const realVsReal = mnistFrechetDistance(model, xt, xTrain400);
    const realVsNoise = mnistFrechetDistance(model, xt, noise);
    expect(same).toBeLessThan(1e-6);
    expect(realVsNoise).toBeGreaterThan(10 * realVsReal);
    console.log(`classifier: Fréchet test-vs-train ${realVsReal.toFixed(3)}, test-vs-noise ${realVsNoise.toFixed(3)}`);

    // Save and load: a fresh model with other initial weights predicts identically afterwards.
    const bytes = saveClassifierWeights(model, { accuracy: after.toFixed(4) });
    const copy = createMnistClassifier({ seed: 2, hidden: 128 });
    const meta = await expectNoLeak(() => loadClassifierWeights(copy, bytes));
    expect(meta).toEqual({ accuracy: after.toFixed(4) });
    tf.tidy(() => {
      const d = tf.max(tf.abs(tf.sub(model.predict(xt) as tf.Tensor, copy.predict(xt) as tf.Tensor))).dataSync()[0];
      expect(d).toBe(0);
    });
    tf.dispose([x, y, xt, yt, noise, xTrain400]);
    model.dispose();
    copy.dispose();
  });

  it('is seeded, accepts 32x32 input and a conv variant', () => {
    const a = createMnistClassifier({ seed: 5 });
    const b = createMnistClassifier({ seed: 5 });
    const c = createMnistClassifier({ seed: 6 });
    const w = (m: tf.LayersModel) => Array.from(m.getLayer('hidden').getWeights()[0].dataSync().slice(0, 8));
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    const conv = createMnistClassifier({ kind: 'conv', inputSize: 32, featureDim: 16 });
    const x = mnistImagesTensor(test, [0, 1, 2], { pad: 32 });
    const f = mnistFeatures(conv, x);
    expect(f.shape).toEqual([3, 16]);
    tf.dispose([x, f]);
    [a, b, c, conv].forEach((m) => m.dispose());
  });

  it('rejects bad models, images, labels, options and weight files', () => {
    const model = createMnistClassifier();
    const x = mnistImagesTensor(test, [0, 1]);
    const y = mnistLabelsTensor(test, [0, 1]);
    const x32 = mnistImagesTensor(test, [0, 1], { pad: 32 });
    expect(() => mnistFeatures(model, x32)).toThrowError(/mnistFeatures: images must be images of shape \[N, 28, 28, 1\]/);
    expect(() => mnistFeatures({} as never, x)).toThrowError(/model must be a LayersModel with a "features" layer/);
    expect(() => mnistFeatures(model, x, { batchSize: 0 })).toThrowError(/options.batchSize/);
    expect(() => classifierAccuracy(model, x, mnistLabelsTensor(test, [0]))).toThrowError(/labels must be 2 labels/);
    expect(() => trainMnistClassifier(model, x, y, { batchSize: 0 })).toThrowError(/options.batchSize must be an integer >= 1, got 0/);
    expect(() => trainMnistClassifier(model, x, y, { learningRate: -1 })).toThrowError(/options.learningRate/);
    expect(() => createMnistClassifier({ kind: 'resnet' as never })).toThrowError(/options.kind/);
    expect(() => createMnistClassifier({ featureDim: 0 })).toThrowError(/options.featureDim/);
    const other = createMnistClassifier({ hidden: 32 });
    expect(() => loadClassifierWeights(model, saveClassifierWeights(other), 'w.safetensors')).toThrowError(
      /w.safetensors: hidden.kernel has shape \[784, 32\], the model expects \[784, 256\]/,
    );
    const conv = createMnistClassifier({ kind: 'conv' });
    expect(() => loadClassifierWeights(model, saveClassifierWeights(conv))).toThrowError(/unexpected tensor\(s\) .*conv0.kernel/);
    expect(() => loadClassifierWeights(model, new Uint8Array(4))).toThrowError(FewstepError);
    tf.dispose([x, y, x32]);
    [model, other, conv].forEach((m) => m.dispose());
  });
});
