// The MNIST Fréchet distance: features from a small classifier (@fewstep/eval), real statistics
// from the 10 000 test images, generated statistics from `samples` images per sampler.
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { seededNoise, type Network } from '@fewstep/core';
import { mnistImagesTensor, mnistLabelsTensor, permutation, type loadMnist } from '@fewstep/data';
import {
  classifierAccuracy,
  createMnistClassifier,
  featureStatistics,
  frechetDistanceFromStatistics,
  imageGridPng,
  loadClassifierWeights,
  mnistFeatures,
  saveClassifierWeights,
  trainMnistClassifier,
  writeOutput,
  type FeatureStatistics,
} from '@fewstep/eval';
import { sample, type Sampler } from '@fewstep/samplers';

type Mnist = ReturnType<typeof loadMnist>;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export interface PreparedClassifier {
  model: tf.LayersModel;
  accuracy: number;
  trained: boolean;
  seconds: number;
}

/** Loads the classifier from `path`, or trains it on the training split and saves it there. */
export async function prepareClassifier(path: string, train: Mnist, test: Mnist, epochs: number): Promise<PreparedClassifier> {
  const model = createMnistClassifier({ kind: 'mlp', inputSize: 28 });
  const t0 = performance.now();
  let trained = false;
  if (existsSync(path)) {
    loadClassifierWeights(model, readFileSync(path), path);
    console.log(`[classifier] loaded ${path}`);
  } else {
    const x = mnistImagesTensor(train, range(train.count));
    const y = mnistLabelsTensor(train, range(train.count));
    const perEpoch = Math.ceil(train.count / 128);
    trainMnistClassifier(model, x, y, {
      epochs,
      batchSize: 128,
      seed: 3,
      onStep: (s, l) => {
        if ((s + 1) % 100 === 0 || s + 1 === epochs * perEpoch) console.log(`[classifier] step ${s + 1}/${epochs * perEpoch} loss ${l.toFixed(4)}`);
      },
    });
    tf.dispose([x, y]);
    writeOutput(path, saveClassifierWeights(model, { epochs: String(epochs) }));
    trained = true;
  }
  const seconds = (performance.now() - t0) / 1000;
  const xt = mnistImagesTensor(test, range(test.count));
  const yt = mnistLabelsTensor(test, range(test.count));
  const accuracy = classifierAccuracy(model, xt, yt);
  tf.dispose([xt, yt]);
  console.log(`[classifier] test accuracy ${(100 * accuracy).toFixed(2)}% on ${test.count} test images`);
  return { model, accuracy, trained, seconds };
}

export interface Candidate {
  key: string;
  label: string;
  nfe: number;
  sampler: Sampler;
  network: Network;
}

export interface Metric {
  key: string;
  label: string;
  nfe: number;
  fd: number;
  /** Wall-clock seconds to generate the samples. */
  seconds: number;
}

function statistics(model: tf.LayersModel, images: tf.Tensor4D): FeatureStatistics {
  const f = mnistFeatures(model, images);
  try {
    return featureStatistics(f);
  } finally {
    f.dispose();
  }
}

/** Generates `n` images in batches with one seeded noise source (the same latents for every sampler). */
function generate(c: Candidate, n: number, seed: number): tf.Tensor4D {
  const noise = seededNoise(seed);
  const parts: tf.Tensor[] = [];
  for (let s = 0; s < n; s += 100) {
    const b = Math.min(100, n - s);
    parts.push(sample(c.sampler, { network: c.network, shape: [b, 28, 28, 1], noise }));
  }
  const out = tf.tidy(() => tf.clipByValue(tf.concat(parts, 0), -1, 1)) as tf.Tensor4D;
  tf.dispose(parts);
  return out;
}

/** FD of every candidate against the test set, plus the reference FD of `samples` real training images. */
export async function evaluate(o: {
  classifier: tf.LayersModel;
  train: Mnist;
  test: Mnist;
  candidates: Candidate[];
  samples: number;
  out: string;
  seed: number;
}): Promise<Metric[]> {
  const xt = mnistImagesTensor(o.test, range(o.test.count));
  const real = statistics(o.classifier, xt);
  xt.dispose();
  const metrics: Metric[] = [];
  // The floor: real training images, as many as the generated sets (FD is biased upward at small n).
  const pick = Array.from(permutation(o.train.count, o.seed).subarray(0, o.samples));
  const xr = mnistImagesTensor(o.train, pick);
  metrics.push({ key: 'real', label: 'real training images', nfe: 0, fd: frechetDistanceFromStatistics(real, statistics(o.classifier, xr)), seconds: 0 });
  const realHead = tf.slice(xr, 0, Math.min(64, o.samples)) as tf.Tensor4D;
  writeOutput(`${o.out}/real.png`, imageGridPng(realHead, { cols: 8 }));
  tf.dispose([xr, realHead]);
  for (const c of o.candidates) {
    const t0 = performance.now();
    const x = generate(c, o.samples, o.seed);
    const seconds = (performance.now() - t0) / 1000;
    const fd = frechetDistanceFromStatistics(real, statistics(o.classifier, x));
    const head = tf.slice(x, 0, Math.min(64, o.samples)) as tf.Tensor4D;
    writeOutput(`${o.out}/samples-${c.key}.png`, imageGridPng(head, { cols: 8 }));
    tf.dispose([x, head]);
    metrics.push({ key: c.key, label: c.label, nfe: c.nfe, fd, seconds });
    console.log(`[eval] ${c.label}: FD ${fd.toFixed(3)} (${o.samples} samples, ${seconds.toFixed(1)} s)`);
  }
  return metrics;
}
