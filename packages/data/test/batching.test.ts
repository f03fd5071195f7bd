import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import {
  batchesPerEpoch,
  batchIndices,
  epochBatches,
  epochOrder,
  gatherRows,
  loadMnist,
  mnistBatches,
  mnistImagesTensor,
  mnistLabelsTensor,
  padImages,
  pixelsToSigned,
  signedToUnit,
  tensorBatches,
  toSignedRange,
} from '@fewstep/data';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);

describe('batching', () => {
  it('each epoch is a seeded permutation; epochs and seeds differ; no shuffle keeps order', () => {
    const e0 = epochOrder(50, 0, { seed: 1 });
    expect(sorted(e0)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(epochOrder(50, 0, { seed: 1 }))).toEqual(Array.from(e0));
    expect(Array.from(epochOrder(50, 1, { seed: 1 }))).not.toEqual(Array.from(e0));
    expect(Array.from(epochOrder(50, 0, { seed: 2 }))).not.toEqual(Array.from(e0));
    expect(Array.from(epochOrder(5, 3, { shuffle: false }))).toEqual([0, 1, 2, 3, 4]);
  });
  it('fixed batch size, with and without dropLast', () => {
    const keep = epochBatches(10, 0, { batchSize: 4, seed: 3 });
    expect(keep.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(sorted(keep.flatMap((b) => Array.from(b)))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const drop = epochBatches(10, 0, { batchSize: 4, seed: 3, dropLast: true });
    expect(drop.map((b) => b.length)).toEqual([4, 4]);
    expect(Array.from(drop[1])).toEqual(Array.from(keep[1]));
    expect(batchesPerEpoch(10, { batchSize: 4 })).toBe(3);
    expect(batchesPerEpoch(10, { batchSize: 4, dropLast: true })).toBe(2);
  });
  it('batchIndices runs epochs with global steps and can resume at an epoch', () => {
    const all = [...batchIndices(10, { batchSize: 4, seed: 1, epochs: 3, dropLast: true })];
    expect(all.map((b) => [b.epoch, b.index, b.step])).toEqual([
      [0, 0, 0], [0, 1, 1], [1, 0, 2], [1, 1, 3], [2, 0, 4], [2, 1, 5],
    ]);
    const resumed = [...batchIndices(10, { batchSize: 4, seed: 1, epochs: 1, startEpoch: 2, dropLast: true })];
    expect(resumed.map((b) => Array.from(b.indices))).toEqual(all.slice(4).map((b) => Array.from(b.indices)));
    const endless = batchIndices(3, { batchSize: 2, epochs: Infinity });
    for (let i = 0; i < 20; i++) expect(endless.next().done).toBe(false);
  });
  it('rejects a batch size of 0 and other bad options with FewstepError', () => {
    expect(() => epochBatches(10, 0, { batchSize: 0 })).toThrowError(FewstepError);
    expect(() => epochBatches(10, 0, { batchSize: 0 })).toThrowError(/options.batchSize must be an integer >= 1, got 0/);
    expect(() => [...batchIndices(10, { batchSize: 0 })]).toThrowError(/options.batchSize/);
    expect(() => epochBatches(10, 0, { batchSize: 11, dropLast: true })).toThrowError(/<= the data size 10 when dropLast/);
    expect(() => epochBatches(0, 0, { batchSize: 1 })).toThrowError(/n must be an integer >= 1/);
    expect(() => epochBatches(10, -1, { batchSize: 1 })).toThrowError(/epoch must be/);
    expect(() => [...batchIndices(10, { batchSize: 2, epochs: 1.5 })]).toThrowError(/options.epochs/);
    expect(() => epochBatches(10, 0, undefined as never)).toThrowError(/options must be an object/);
    expect(() => epochBatches(10, 0, { batchSize: 2, shuffle: 'yes' as never })).toThrowError(/options.shuffle/);
  });
  it('gatherRows and tensorBatches return the chosen rows without leaks', async () => {
    const x = tf.tensor2d([[0, 0], [1, 10], [2, 20], [3, 30]]);
    const g = await expectNoLeak(() => {
      const r = gatherRows(x, [3, 1]);
      expect(Array.from(r.dataSync())).toEqual([3, 30, 1, 10]);
      return r;
    });
    expect(g.isDisposed).toBe(true);
    await expectNoLeak(() => {
      const seen: number[] = [];
      for (const b of tensorBatches(x, { batchSize: 2, seed: 4 })) {
        expect(b.batch.shape).toEqual([2, 2]);
        seen.push(...Array.from(b.batch.dataSync()).filter((_, i) => i % 2 === 0));
        b.batch.dispose();
      }
      expect(sorted(seen)).toEqual([0, 1, 2, 3]);
    });
    expect(() => gatherRows(x, [4])).toThrowError(/indices\[0\] must be an integer in \[0, 4\), got 4/);
    expect(() => gatherRows(tf.scalar(1) as never, [0])).toThrowError(/rank >= 1/);
    expect(() => gatherRows([1] as never, [0])).toThrowError(/x must be a tensor/);
    x.dispose();
  });
});

describe('scaling', () => {
  it('maps 0..255 to [-1, 1] and back to [0, 1]', async () => {
    expect(Array.from(pixelsToSigned(Uint8Array.from([0, 255, 51])))).toEqual([-1, 1, Math.fround(51 / 127.5 - 1)]);
    const a = tf.tensor1d([0, 127.5, 255], 'float32');
    const b = tf.tensor1d([-2, -1, 0, 1, 3]);
    await expectNoLeak(() => {
      const s = toSignedRange(a);
      expect(Array.from(s.dataSync())).toEqual([-1, 0, 1]);
      const u = signedToUnit(b);
      expect(Array.from(u.dataSync())).toEqual([0, 0, 0.5, 1, 1]);
      return [s, u];
    });
    tf.dispose([a, b]);
    expect(() => pixelsToSigned(5 as never)).toThrowError(/pixels must be/);
    expect(() => pixelsToSigned([1, 2], new Float32Array(3))).toThrowError(/out must be a Float32Array of length 2/);
    expect(() => toSignedRange(null as never)).toThrowError(FewstepError);
    expect(() => signedToUnit(null as never)).toThrowError(/x must be a tensor/);
  });
  it('padImages centres images with the background value', async () => {
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    await expectNoLeak(() => {
      const p = padImages(x, 4);
      expect(p.shape).toEqual([1, 4, 4, 1]);
      expect(Array.from(p.dataSync())).toEqual([-1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, -1, -1, -1]);
      return p;
    });
    expect(() => padImages(x, 1)).toThrowError(/size must be an integer >= 2, got 1/);
    expect(() => padImages(tf.ones([2, 2]) as never, 4)).toThrowError(/rank 4/);
    x.dispose();
  });
});

describe('MNIST tensors', () => {
  const data = loadMnist({ split: 'test', limit: 64 });
  it('mnistImagesTensor scales to [-1, 1], pads 28 -> 32 and agrees with padImages', async () => {
    await expectNoLeak(() => {
      const raw = mnistImagesTensor(data, [0, 5]);
      expect(raw.shape).toEqual([2, 28, 28, 1]);
      const values = raw.dataSync();
      expect(Math.min(...values)).toBe(-1);
      expect(Math.max(...values)).toBeLessThanOrEqual(1);
      expect(values[0]).toBe(data.pixels[0] / 127.5 - 1);
      const padded = mnistImagesTensor(data, [0, 5], { pad: 32 });
      const viaPad = padImages(raw, 32);
      expect(padded.shape).toEqual([2, 32, 32, 1]);
      tf.tidy(() => {
        expect(tf.max(tf.abs(tf.sub(padded, viaPad))).dataSync()[0]).toBeLessThan(1e-6);
      });
      const unit = mnistImagesTensor(data, [0], { range: 'unit' });
      const u = unit.dataSync();
      expect(Math.max(...u)).toBeLessThanOrEqual(1);
      expect(Math.min(...u)).toBe(0);
      const labels = mnistLabelsTensor(data, [0, 1, 2]);
      expect(labels.dtype).toBe('int32');
      expect(Array.from(labels.dataSync())).toEqual([7, 2, 1]);
      return [raw, padded, viaPad, unit, labels];
    });
  });
  it('mnistBatches yields seeded image/label batches the caller disposes', async () => {
    await expectNoLeak(() => {
      const labelsSeen: number[] = [];
      let batches = 0;
      for (const b of mnistBatches(data, { batchSize: 16, seed: 2, pad: 32, dropLast: true })) {
        expect(b.images.shape).toEqual([16, 32, 32, 1]);
        labelsSeen.push(...Array.from(b.labels.dataSync()));
        tf.dispose([b.images, b.labels]);
        batches++;
      }
      expect(batches).toBe(4);
      expect(sorted(labelsSeen)).toEqual(sorted(data.labels));
    });
  });
  it('rejects bad indices, padding, range and data', () => {
    expect(() => mnistImagesTensor(data, [64])).toThrowError(/indices\[0\] must be an integer in \[0, 64\)/);
    expect(() => mnistImagesTensor(data, [])).toThrowError(/indices must be a non-empty/);
    expect(() => mnistImagesTensor(data, [0], { pad: 20 })).toThrowError(/options.pad must be an integer >= 28/);
    expect(() => mnistImagesTensor(data, [0], { range: 'byte' as never })).toThrowError(/options.range/);
    expect(() => mnistImagesTensor({} as never, [0])).toThrowError(/data must be an MnistDataset/);
    expect(() => mnistLabelsTensor(data, [-1])).toThrowError(/indices\[0\]/);
    expect(() => [...mnistBatches(data, { batchSize: 0 })]).toThrowError(/options.batchSize must be an integer >= 1, got 0/);
  });
});
