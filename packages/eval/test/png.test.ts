import { beforeAll, describe, expect, it } from 'vitest';
import { inflateSync } from 'node:zlib';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import {
  adler32,
  crc32,
  decodePng,
  encodePng,
  imageGrid,
  imageGridAsync,
  imageGridPng,
  inflateStored,
  writeOutput,
  zlibStored,
  type RasterImage,
} from '@fewstep/eval';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

// Walks the chunks of a PNG and checks every CRC independently of decodePng.
function chunks(png: Uint8Array): { type: string; body: Uint8Array }[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: { type: string; body: Uint8Array }[] = [];
  for (let pos = 8; pos < png.length; ) {
    const len = view.getUint32(pos);
    const type = Buffer.from(png.subarray(pos + 4, pos + 8)).toString('latin1');
    expect(crc32(png.subarray(pos + 4, pos + 8 + len))).toBe(view.getUint32(pos + 8 + len));
    out.push({ type, body: png.subarray(pos + 8, pos + 8 + len) });
    pos += 12 + len;
  }
  return out;
}

const gradient = (w: number, h: number, c: 1 | 3 | 4): RasterImage => ({
  width: w,
  height: h,
  channels: c,
  data: Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + (i >> 3)) & 255),
});

describe('checksums and zlib', () => {
  it('CRC-32 and Adler-32 match their standard check values', () => {
    const ascii = new TextEncoder().encode('123456789');
    expect(crc32(ascii)).toBe(0xcbf43926);
    expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
    const big = Uint8Array.from({ length: 100000 }, (_, i) => (i * 7) & 255);
    const z = zlibStored(big);
    expect(Buffer.compare(inflateSync(z), Buffer.from(big))).toBe(0);
    expect(Array.from(inflateStored(z).subarray(0, 10))).toEqual(Array.from(big.subarray(0, 10)));
    expect(inflateStored(zlibStored(new Uint8Array(0))).length).toBe(0);
    const bad = z.slice();
    bad[bad.length - 1] ^= 1;
    expect(() => inflateStored(bad)).toThrowError(/Adler-32 checksum mismatch/);
    expect(() => crc32('abc' as never)).toThrowError(/crc32: bytes must be a Uint8Array, got "abc"/);
    expect(() => adler32([1] as never)).toThrowError(FewstepError);
    expect(() => zlibStored(null as never)).toThrowError(/data must be a Uint8Array/);
    expect(() => inflateStored(new Uint8Array(3))).toThrowError(/not a zlib stream/);
  });
});

describe('encodePng / decodePng', () => {
  it('round-trips grey, RGB and RGBA images, compressed and stored, with valid CRCs', () => {
    for (const c of [1, 3, 4] as const) {
      const img = gradient(13, 7, c);
      for (const compress of [true, false]) {
        const png = encodePng(img, { compress });
        expect(png).toBeInstanceOf(Uint8Array);
        expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
        const cs = chunks(png);
        expect(cs.map((x) => x.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
        expect(Array.from(cs[0].body)).toEqual([0, 0, 0, 13, 0, 0, 0, 7, 8, { 1: 0, 3: 2, 4: 6 }[c], 0, 0, 0]);
        // node:zlib reads our stream (stored or deflated): one filter byte per row plus the pixels.
        expect(inflateSync(cs[1].body).length).toBe(7 * (13 * c + 1));
        const back = decodePng(png);
        expect(back).toMatchObject({ width: 13, height: 7, channels: c });
        expect(Buffer.compare(Buffer.from(back.data), Buffer.from(img.data))).toBe(0);
      }
    }
  });
  it('without node:zlib (as in a browser) writes and reads stored-block PNGs', () => {
    const proc = process as unknown as { getBuiltinModule?: unknown };
    const original = proc.getBuiltinModule;
    const img = gradient(70, 40, 3);
    let png: Uint8Array;
    let back: RasterImage;
    try {
      proc.getBuiltinModule = undefined;
      png = encodePng(img);
      back = decodePng(png);
      expect(() => writeOutput('/tmp/x.png', png)).toThrowError(/needs Node/);
    } finally {
      proc.getBuiltinModule = original;
    }
    expect(png.length).toBeGreaterThan(40 * (70 * 3 + 1));
    expect(Buffer.compare(Buffer.from(back.data), Buffer.from(img.data))).toBe(0);
    // Stored blocks are a valid zlib stream for any reader.
    expect(inflateSync(chunks(png)[1].body).length).toBe(40 * (70 * 3 + 1));
    // A compressed PNG cannot be read without an inflater: a clear error, not garbage.
    const compressed = encodePng(img);
    try {
      proc.getBuiltinModule = undefined;
      expect(() => decodePng(compressed)).toThrowError(/compressed deflate blocks/);
    } finally {
      proc.getBuiltinModule = original;
    }
  });
  it('compresses a smooth image well when node:zlib is present', () => {
    const flat: RasterImage = { width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64).fill(200) };
    expect(encodePng(flat).length).toBeLessThan(200);
    expect(encodePng(flat, { compress: false }).length).toBeGreaterThan(64 * 65);
  });
  it('rejects bad images and corrupt PNGs with FewstepError', () => {
    const img = gradient(4, 4, 1);
    expect(() => encodePng({ ...img, channels: 2 as never })).toThrowError(/image.channels must be 1, 3 or 4/);
    expect(() => encodePng({ ...img, width: 0 })).toThrowError(/image.width must be an integer >= 1/);
    expect(() => encodePng({ ...img, data: new Uint8Array(3) })).toThrowError(/image.data must be 16 bytes/);
    const png = encodePng(img);
    const bad = png.slice();
    bad[20] ^= 0xff;
    expect(() => decodePng(bad)).toThrowError(/CRC mismatch in IHDR/);
    expect(() => decodePng(png.subarray(0, 30))).toThrowError(FewstepError);
    expect(() => decodePng(new Uint8Array(10))).toThrowError(/bad signature/);
  });
});

describe('imageGrid', () => {
  it('tiles NHWC images with padding, mapping [-1, 1] to 0..255', async () => {
    const x = tf.tensor4d([-1, 1, 0, 1, 1, 1, 1, -1], [2, 2, 2, 1]);
    const grid = await expectNoLeak(() => imageGrid(x, { cols: 2, padding: 1, background: 9 }));
    expect(grid).toMatchObject({ width: 7, height: 4, channels: 1 });
    // Row 1: pad, img0 (0, 255), pad, img1 (255, 255), pad.
    expect(Array.from(grid.data.subarray(7, 14))).toEqual([9, 0, 255, 9, 255, 255, 9]);
    expect(Array.from(grid.data.subarray(14, 21))).toEqual([9, 128, 255, 9, 255, 0, 9]);
    expect(Array.from(grid.data.subarray(0, 7))).toEqual([9, 9, 9, 9, 9, 9, 9]);
    const asyncGrid = await imageGridAsync(x, { cols: 2, padding: 1, background: 9 });
    expect(Array.from(asyncGrid.data)).toEqual(Array.from(grid.data));
    const png = imageGridPng(x, { cols: 1, padding: 0 });
    expect(decodePng(png)).toMatchObject({ width: 2, height: 4, channels: 1 });
    x.dispose();
  });
  it('takes arrays of equal-sized RGB images, unit and byte ranges, partial last rows', () => {
    const imgs = [0, 1, 2].map((k) => tf.fill([2, 3, 3], k * 0.5) as tf.Tensor3D);
    const grid = imageGrid(imgs, { cols: 2, padding: 0, range: 'unit' });
    expect(grid).toMatchObject({ width: 6, height: 4, channels: 3 });
    expect(grid.data[0]).toBe(0);
    expect(grid.data[3 * 3]).toBe(128);
    expect(grid.data[(2 * 6) * 3]).toBe(255);
    expect(grid.data[(2 * 6 + 3) * 3]).toBe(0); // the empty slot keeps the background
    const bytes = imageGrid(tf.fill([1, 1, 1, 1], 300) as tf.Tensor4D, { range: 'byte', padding: 0 });
    expect(Array.from(bytes.data)).toEqual([255]);
    tf.dispose(imgs);
  });
  it('rejects mixed sizes and bad options, naming the argument', () => {
    const a = tf.zeros([4, 4, 1]) as tf.Tensor3D;
    const b = tf.zeros([5, 4, 1]) as tf.Tensor3D;
    expect(() => imageGrid([a, b])).toThrowError(FewstepError);
    expect(() => imageGrid([a, b])).toThrowError(/imageGrid: images\[1\] must be an image of shape \[4, 4, 1\] like images\[0\]/);
    expect(() => imageGrid([])).toThrowError(/images must be a non-empty array/);
    expect(() => imageGrid(tf.zeros([1, 2, 2, 2]) as tf.Tensor4D)).toThrowError(/1, 3 or 4 channels/);
    expect(() => imageGrid(tf.zeros([2, 2]) as never)).toThrowError(/images must be a tensor of rank 4/);
    expect(() => imageGrid([a], { cols: 0 })).toThrowError(/options.cols/);
    expect(() => imageGrid([a], { range: 'hdr' as never })).toThrowError(/options.range/);
    expect(() => imageGrid([a], { background: 256 })).toThrowError(/options.background/);
    tf.dispose([a, b]);
  });
});

describe('writeOutput', () => {
  it('writes bytes and text, creating folders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fewstep-eval-'));
    const file = join(dir, 'sub', 'grid.png');
    const png = encodePng(gradient(3, 3, 3));
    writeOutput(file, png);
    expect(Buffer.compare(readFileSync(file), Buffer.from(png))).toBe(0);
    writeOutput(join(dir, 'c.svg'), '<svg/>');
    expect(readFileSync(join(dir, 'c.svg'), 'utf8')).toBe('<svg/>');
    expect(() => writeOutput('', png)).toThrowError(/path must be a file path/);
    expect(() => writeOutput(file, 5 as never)).toThrowError(/content must be a Uint8Array or a string/);
  });
});
