import * as tf from '@tensorflow/tfjs';
import { FewstepError, assertSyncRead, readSafetensors, validate, writeSafetensors, type HostTensor } from '@fewstep/core';
import { frechetDistance } from './frechet';
import { readFeatures } from './features';

export interface MnistClassifierOptions {
  /** Image side: 28 (raw MNIST, default) or 32 (padded). */
  inputSize?: number;
  /** 'mlp' (default: trains fast on every backend) or 'conv' (two conv layers; needs conv weight gradients). */
  kind?: 'mlp' | 'conv';
  /** Width of the hidden layer(s) before the feature layer (default 256). */
  hidden?: number;
  /** Dimension of the feature layer used for the Fréchet distance (default 64). */
  featureDim?: number;
  /** Seed of the weight initialisation (default 0). */
  seed?: number;
}

/** Name of the layer whose activations are the Fréchet features. */
export const FEATURE_LAYER = 'features';

/**
 * A small MNIST classifier, images [-1, 1] `[N, S, S, 1]` -> 10 logits, whose penultimate layer
 * (`features`, ReLU) provides the features of an MNIST Fréchet distance. Layer names are fixed
 * (hidden, features, logits; conv0, conv1 for 'conv') so weights save and load by name.
 */
export function createMnistClassifier(options: MnistClassifierOptions = {}): tf.Sequential {
  const check = validate('createMnistClassifier');
  const size = check.integer('options.inputSize', options.inputSize ?? 28, { min: 8 });
  const kind = check.oneOf('options.kind', options.kind ?? 'mlp', ['mlp', 'conv']);
  const hidden = check.integer('options.hidden', options.hidden ?? 256, { min: 1 });
  const featureDim = check.integer('options.featureDim', options.featureDim ?? 64, { min: 1 });
  const seed = check.integer('options.seed', options.seed ?? 0);
  // Each layer gets its own seed so that layers of equal shape do not start identical.
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 16 + k });
  const model = tf.sequential();
  if (kind === 'conv') {
    model.add(tf.layers.conv2d({ name: 'conv0', inputShape: [size, size, 1], filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(0) }));
    model.add(tf.layers.conv2d({ name: 'conv1', filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }));
    model.add(tf.layers.flatten({ name: 'flatten' }));
  } else {
    model.add(tf.layers.flatten({ name: 'flatten', inputShape: [size, size, 1] }));
  }
  model.add(tf.layers.dense({ name: 'hidden', units: hidden, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.dense({ name: FEATURE_LAYER, units: featureDim, activation: 'relu', kernelInitializer: init(3) }));
  model.add(tf.layers.dense({ name: 'logits', units: 10, kernelInitializer: init(4) }));
  return model;
}

function checkModel(where: string, model: tf.LayersModel): tf.LayersModel {
  const check = validate(where);
  const ok = model instanceof tf.LayersModel && model.layers.some((l) => l.name === FEATURE_LAYER);
  check.check(ok, 'model', `a LayersModel with a "${FEATURE_LAYER}" layer (createMnistClassifier)`, model);
  return model;
}

function checkImages(where: string, model: tf.LayersModel, images: tf.Tensor4D): void {
  const check = validate(where);
  check.tensor('images', images, { rank: 4 });
  const [, h, w, c] = model.inputs[0].shape;
  const ok = images.shape[1] === h && images.shape[2] === w && images.shape[3] === c;
  check.check(ok, 'images', `images of shape [N, ${h}, ${w}, ${c}] (the model's input)`, images);
}

function checkImagesAndLabels(where: string, model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D): void {
  checkImages(where, model, images);
  const check = validate(where);
  check.tensor('labels', labels, { rank: 1 });
  check.check(labels.shape[0] === images.shape[0], 'labels', `${images.shape[0]} labels (one per image)`, labels);
}

const featureModels = new WeakMap<tf.LayersModel, tf.LayersModel>();

// A model sharing the classifier's weights that stops at the feature layer (built once per model).
function featureModel(model: tf.LayersModel): tf.LayersModel {
  let fm = featureModels.get(model);
  if (!fm) {
    fm = tf.model({ inputs: model.inputs, outputs: model.getLayer(FEATURE_LAYER).output as tf.SymbolicTensor });
    featureModels.set(model, fm);
  }
  return fm;
}

function inBatches(x: tf.Tensor4D, batchSize: number, fn: (b: tf.Tensor4D) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = x.shape[0];
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < n; s += batchSize) {
      parts.push(fn(tf.slice(x, [s, 0, 0, 0], [Math.min(batchSize, n - s), -1, -1, -1])));
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  });
}

/** Feature-layer activations `[N, featureDim]` of images in [-1, 1], computed in batches. */
export function mnistFeatures(model: tf.LayersModel, images: tf.Tensor4D, options: { batchSize?: number } = {}): tf.Tensor2D {
  const where = 'mnistFeatures';
  checkModel(where, model);
  checkImages(where, model, images);
  const batchSize = validate(where).integer('options.batchSize', options.batchSize ?? 500, { min: 1 });
  const fm = featureModel(model);
  return inBatches(images, batchSize, (b) => fm.predict(b) as tf.Tensor) as tf.Tensor2D;
}

/** The number of correctly classified images, as a scalar tensor (read by the sync and async API). */
function correctCount(where: string, model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D, options: { batchSize?: number }): tf.Scalar {
  checkModel(where, model);
  checkImagesAndLabels(where, model, images, labels);
  const check = validate(where);
  const batchSize = check.integer('options.batchSize', options.batchSize ?? 500, { min: 1 });
  return tf.tidy(() => {
    const predicted = inBatches(images, batchSize, (b) => tf.argMax(model.predict(b) as tf.Tensor, 1));
    return tf.sum(tf.cast(tf.equal(predicted, tf.cast(labels, 'int32')), 'float32'));
  });
}

/** Reads a scalar (sync or async) and disposes it, also when the read throws. */
function readScalar(t: tf.Scalar): number {
  try {
    return t.dataSync()[0];
  } finally {
    t.dispose();
  }
}

async function readScalarAsync(t: tf.Scalar): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/**
 * Fraction of `images` whose arg-max logit equals the label. Reads synchronously (cpu, wasm,
 * webgl); on webgpu it throws naming `classifierAccuracyAsync`.
 */
export function classifierAccuracy(model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D, options: { batchSize?: number } = {}): number {
  assertSyncRead('classifierAccuracy', 'await classifierAccuracyAsync(model, images, labels)');
  return readScalar(correctCount('classifierAccuracy', model, images, labels, options)) / images.shape[0];
}

/** `classifierAccuracy` reading with `await data()` (every backend; required on webgpu). */
export async function classifierAccuracyAsync(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  options: { batchSize?: number } = {},
): Promise<number> {
  return (await readScalarAsync(correctCount('classifierAccuracyAsync', model, images, labels, options))) / images.shape[0];
}

/** The Fréchet distance between the classifier features of two image sets (each >= 2 images). */
export function mnistFrechetDistance(model: tf.LayersModel, real: tf.Tensor4D, generated: tf.Tensor4D): number {
  const where = 'mnistFrechetDistance';
  checkModel(where, model);
  checkImages(where, model, real);
  checkImages(where, model, generated);
  assertSyncRead(where, 'await mnistFrechetDistanceAsync(model, real, generated)');
  const a = mnistFeatures(model, real);
  const b = mnistFeatures(model, generated);
  try {
    return frechetDistance(a, b);
  } finally {
    tf.dispose([a, b]);
  }
}

/** `mnistFrechetDistance` reading the features with `await data()` (every backend; required on webgpu). */
export async function mnistFrechetDistanceAsync(model: tf.LayersModel, real: tf.Tensor4D, generated: tf.Tensor4D): Promise<number> {
  const where = 'mnistFrechetDistanceAsync';
  checkModel(where, model);
  checkImages(where, model, real);
  checkImages(where, model, generated);
  const a = mnistFeatures(model, real);
  const b = mnistFeatures(model, generated);
  try {
    return frechetDistance(await readFeatures(a), await readFeatures(b));
  } finally {
    tf.dispose([a, b]);
  }
}

export interface TrainClassifierOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Seed of the batch order (default 0). */
  seed?: number;
  /** Called after every step with the step index and its loss. */
  onStep?: (step: number, loss: number) => void;
}

// Seeded Fisher-Yates with a small LCG: the batch order replays exactly.
function shuffled(n: number, seed: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let s = (seed >>> 0) || 1;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

interface ClassifierRun {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  onStep?: (step: number, loss: number) => void;
}

function checkTraining(where: string, model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D, options: TrainClassifierOptions): ClassifierRun {
  checkModel(where, model);
  checkImagesAndLabels(where, model, images, labels);
  const check = validate(where);
  return {
    epochs: check.integer('options.epochs', options.epochs ?? 1, { min: 1 }),
    batchSize: check.integer('options.batchSize', options.batchSize ?? 64, { min: 1 }),
    lr: check.finite('options.learningRate', options.learningRate ?? 1e-3, { gt: 0 }),
    seed: check.integer('options.seed', options.seed ?? 0),
    onStep: options.onStep === undefined ? undefined : check.fn<(s: number, l: number) => void>('options.onStep', options.onStep),
  };
}

/** The mini-batches of every epoch (seeded order), as index arrays. */
function* batchesOf(n: number, run: ClassifierRun): Generator<Int32Array> {
  for (let epoch = 0; epoch < run.epochs; epoch++) {
    const order = shuffled(n, run.seed * 1000003 + epoch);
    for (let s = 0; s < n; s += run.batchSize) yield order.subarray(s, Math.min(n, s + run.batchSize));
  }
}

/** One Adam step on a batch; returns the loss as a scalar tensor (the caller reads and disposes it). */
function classifierStep(model: tf.LayersModel, optimizer: tf.Optimizer, images: tf.Tensor4D, labels: tf.Tensor1D, batch: Int32Array): tf.Scalar {
  const idx = tf.tensor1d(batch, 'int32');
  try {
    return tf.tidy(() => {
      const x = tf.gather(images, idx);
      const y = tf.oneHot(tf.cast(tf.gather(labels, idx), 'int32'), 10);
      const objective = () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
      return optimizer.minimize(objective, true) as tf.Scalar;
    });
  } finally {
    idx.dispose();
  }
}

/**
 * Trains the classifier with Adam on softmax cross-entropy (a plain loop: seeded batch order,
 * no tfjs `fit` shuffling). Returns the loss of every step. Reads each loss synchronously (cpu,
 * wasm, webgl); on webgpu it throws naming `trainMnistClassifierAsync`.
 */
export function trainMnistClassifier(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  options: TrainClassifierOptions = {},
): number[] {
  const run = checkTraining('trainMnistClassifier', model, images, labels, options);
  assertSyncRead('trainMnistClassifier', 'await trainMnistClassifierAsync(model, images, labels, options)');
  const optimizer = tf.train.adam(run.lr);
  const losses: number[] = [];
  try {
    for (const batch of batchesOf(images.shape[0], run)) {
      losses.push(readScalar(classifierStep(model, optimizer, images, labels, batch)));
      run.onStep?.(losses.length - 1, losses[losses.length - 1]);
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}

/** `trainMnistClassifier` reading each loss with `await data()`: the same losses, on every backend. */
export async function trainMnistClassifierAsync(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  options: TrainClassifierOptions = {},
): Promise<number[]> {
  const run = checkTraining('trainMnistClassifierAsync', model, images, labels, options);
  const optimizer = tf.train.adam(run.lr);
  const losses: number[] = [];
  try {
    for (const batch of batchesOf(images.shape[0], run)) {
      losses.push(await readScalarAsync(classifierStep(model, optimizer, images, labels, batch)));
      run.onStep?.(losses.length - 1, losses[losses.length - 1]);
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}

function layerWeights(model: tf.LayersModel): [string, tf.LayerVariable][] {
  return model.layers.flatMap((layer) =>
    layer.weights.map((w) => {
      // originalName is "<layer>/kernel" or "<layer>/bias"; keep the role, key by our layer name.
      const role = w.originalName.split('/').pop();
      return [`${layer.name}.${role}`, w] as [string, tf.LayerVariable];
    }),
  );
}

/**
 * The classifier's weights as safetensors bytes (keys `<layer>.kernel` / `<layer>.bias`). Reads
 * synchronously (cpu, wasm, webgl); on webgpu it throws naming `saveClassifierWeightsAsync`.
 */
export function saveClassifierWeights(model: tf.LayersModel, metadata: Record<string, string> = {}): Uint8Array {
  checkModel('saveClassifierWeights', model);
  assertSyncRead('saveClassifierWeights', 'await saveClassifierWeightsAsync(model)');
  const arrays: Record<string, HostTensor> = {};
  for (const [name, w] of layerWeights(model)) {
    arrays[name] = { shape: w.shape.map(Number), data: Float32Array.from(w.read().dataSync()) };
  }
  return writeSafetensors(arrays, { metadata });
}

/** `saveClassifierWeights` reading the weights with `await data()` (every backend; required on webgpu). */
export async function saveClassifierWeightsAsync(model: tf.LayersModel, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  checkModel('saveClassifierWeightsAsync', model);
  const arrays: Record<string, HostTensor> = {};
  for (const [name, w] of layerWeights(model)) {
    arrays[name] = { shape: w.shape.map(Number), data: Float32Array.from(await w.read().data()) };
  }
  return writeSafetensors(arrays, { metadata });
}

/** Reads a safetensors file, naming the source in the error. */
function readClassifierFile(bytes: Uint8Array, source: string): { arrays: Record<string, HostTensor>; metadata: Record<string, string> } {
  try {
    const file = readSafetensors(bytes);
    return { arrays: file.tensors, metadata: file.metadata };
  } catch (e) {
    throw new FewstepError('loadClassifierWeights', `${source}: ${(e as Error).message}`, 'bytes');
  }
}

/** Loads safetensors weights written by `saveClassifierWeights`, checking names and shapes. */
export function loadClassifierWeights(model: tf.LayersModel, bytes: Uint8Array, source = 'classifier weights'): Record<string, string> {
  const where = 'loadClassifierWeights';
  checkModel(where, model);
  const { arrays, metadata } = readClassifierFile(bytes, source);
  const weights = layerWeights(model);
  const expected = new Set(weights.map(([n]) => n));
  const extra = Object.keys(arrays).filter((k) => !expected.has(k));
  if (extra.length) throw new FewstepError(where, `${source}: unexpected tensor(s) ${extra.join(', ')}`, 'bytes');
  for (const [name, w] of weights) {
    const a = arrays[name];
    if (!a) throw new FewstepError(where, `${source}: missing tensor ${name}`, 'bytes');
    if (a.shape.length !== w.shape.length || a.shape.some((s, i) => s !== w.shape[i])) {
      throw new FewstepError(where, `${source}: ${name} has shape [${a.shape.join(', ')}], the model expects [${w.shape.join(', ')}]`, 'bytes');
    }
  }
  for (const [name, w] of weights) {
    const t = tf.tensor(arrays[name].data, arrays[name].shape, 'float32');
    w.write(t);
    t.dispose();
  }
  return metadata;
}
