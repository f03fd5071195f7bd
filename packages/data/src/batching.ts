import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { permutation } from './random';

export interface BatchOptions {
  /** Samples per batch (an integer >= 1). */
  batchSize: number;
  /** Seed of the shuffles (default 0); epoch `e` uses a permutation derived from (seed, e). */
  seed?: number;
  /** Shuffle each epoch (default true); false keeps the data order. */
  shuffle?: boolean;
  /** Drop the last, smaller batch of each epoch (default false), so every batch has `batchSize` rows. */
  dropLast?: boolean;
}

export interface BatchIteratorOptions extends BatchOptions {
  /** Number of epochs to run (default 1; `Infinity` for an endless stream). */
  epochs?: number;
  /** First epoch (default 0), to resume a run where it stopped. */
  startEpoch?: number;
}

/** One batch's place in the run and the sample indices it holds. */
export interface BatchIndices {
  epoch: number;
  /** Index of the batch within its epoch. */
  index: number;
  /** Global step: batches since epoch 0. */
  step: number;
  indices: Int32Array;
}

// Each epoch's permutation comes from its own seed, so epoch e can be replayed without e-1 before it.
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(epoch + 1, 0xc2b2ae35)) | 0;
}

function checkBatchOptions(where: string, n: number, options: BatchOptions): Required<BatchOptions> {
  const check = validate(where);
  check.integer('n', n, { min: 1 });
  if (typeof options !== 'object' || options === null) check.fail('options', 'an object with batchSize', options);
  const batchSize = check.integer('options.batchSize', options.batchSize, { min: 1 });
  const seed = check.integer('options.seed', options.seed ?? 0);
  const shuffle = options.shuffle ?? true;
  const dropLast = options.dropLast ?? false;
  check.check(typeof shuffle === 'boolean', 'options.shuffle', 'a boolean', shuffle);
  check.check(typeof dropLast === 'boolean', 'options.dropLast', 'a boolean', dropLast);
  if (dropLast && batchSize > n) {
    check.fail('options.batchSize', `<= the data size ${n} when dropLast is set`, batchSize);
  }
  return { batchSize, seed, shuffle, dropLast };
}

/** The sample order of one epoch: a seeded permutation of 0..n-1 (identity without shuffling). */
export function epochOrder(n: number, epoch: number, options: Omit<BatchOptions, 'batchSize'> = {}): Int32Array {
  const opts = checkBatchOptions('epochOrder', n, { ...options, batchSize: 1 });
  validate('epochOrder').integer('epoch', epoch, { min: 0 });
  if (!opts.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  return permutation(n, epochSeed(opts.seed, epoch));
}

/** The batches of one epoch as index arrays. */
export function epochBatches(n: number, epoch: number, options: BatchOptions): Int32Array[] {
  const opts = checkBatchOptions('epochBatches', n, options);
  validate('epochBatches').integer('epoch', epoch, { min: 0 });
  const order = epochOrder(n, epoch, opts);
  const count = opts.dropLast ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
  return Array.from({ length: count }, (_, b) => order.slice(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize)));
}

/** Batches per epoch for `n` samples. */
export function batchesPerEpoch(n: number, options: BatchOptions): number {
  const opts = checkBatchOptions('batchesPerEpoch', n, options);
  return opts.dropLast ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
}

/** Iterates over the batches of `epochs` shuffled epochs of `n` samples (indices only: no tensors). */
export function* batchIndices(n: number, options: BatchIteratorOptions): Generator<BatchIndices> {
  const opts = checkBatchOptions('batchIndices', n, options);
  const check = validate('batchIndices');
  const epochs = check.number('options.epochs', options.epochs ?? 1, { min: 0 });
  check.check(epochs === Infinity || Number.isInteger(epochs), 'options.epochs', 'an integer or Infinity', epochs);
  const startEpoch = check.integer('options.startEpoch', options.startEpoch ?? 0, { min: 0 });
  const perEpoch = batchesPerEpoch(n, opts);
  for (let epoch = startEpoch; epoch < startEpoch + epochs; epoch++) {
    const batches = epochBatches(n, epoch, opts);
    for (let index = 0; index < batches.length; index++) {
      yield { epoch, index, step: epoch * perEpoch + index, indices: batches[index] };
    }
  }
}

/** Rows `indices` of `x` along axis 0 as a new tensor (the caller disposes it). */
export function gatherRows<T extends tf.Tensor>(x: T, indices: ArrayLike<number>): T {
  const check = validate('gatherRows');
  check.tensor('x', x);
  check.check(x.rank >= 1, 'x', 'a tensor of rank >= 1', x);
  const idx = Array.from(indices);
  const n = x.shape[0];
  const bad = idx.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= n);
  if (bad >= 0) check.fail(`indices[${bad}]`, `an integer in [0, ${n})`, idx[bad]);
  return tf.tidy(() => tf.gather(x, tf.tensor1d(idx, 'int32'))) as T;
}

/**
 * Iterates over batches of the rows of `x` (e.g. toy 2-D data `[N, 2]`): yields tensors the caller
 * disposes, alongside their place in the run.
 */
export function* tensorBatches<T extends tf.Tensor>(
  x: T,
  options: BatchIteratorOptions,
): Generator<Omit<BatchIndices, 'indices'> & { batch: T; indices: Int32Array }> {
  validate('tensorBatches').tensor('x', x);
  for (const b of batchIndices(x.shape[0] ?? 0, options)) {
    yield { ...b, batch: gatherRows(x, b.indices) };
  }
}
