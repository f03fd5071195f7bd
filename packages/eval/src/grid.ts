import * as tf from '@tensorflow/tfjs';
import { assertSyncRead, isTensor, validate } from '@fewstep/core';
import { encodePng, type PngOptions, type RasterImage } from './png';

export interface GridOptions {
  /** Images per row (default ceil(sqrt(N))). */
  cols?: number;
  /** Pixels between images and around the border (default 2). */
  padding?: number;
  /** Value range of the images: 'signed' [-1, 1] (default), 'unit' [0, 1], or 'byte' [0, 255]. Values outside are clipped. */
  range?: 'signed' | 'unit' | 'byte';
  /** Grey level 0-255 of the padding (default 0). */
  background?: number;
}

interface Shape {
  n: number;
  h: number;
  w: number;
  c: 1 | 3 | 4;
}

type ImagesInput = tf.Tensor4D | tf.Tensor3D[];

function checkImages(where: string, images: ImagesInput): Shape {
  const check = validate(where);
  if (Array.isArray(images)) {
    check.check(images.length > 0, 'images', 'a non-empty array of [H, W, C] tensors', images);
    const first = check.tensor('images[0]', images[0], { rank: 3 });
    images.forEach((img, i) => {
      check.tensor(`images[${i}]`, img, { rank: 3 });
      const same = img.shape.every((s, d) => s === first.shape[d]);
      check.check(same, `images[${i}]`, `an image of shape [${first.shape.join(', ')}] like images[0] (a grid needs equal sizes)`, img);
    });
    const [h, w, c] = first.shape;
    check.check(c === 1 || c === 3 || c === 4, 'images', 'images with 1, 3 or 4 channels', first);
    return { n: images.length, h, w, c: c as 1 | 3 | 4 };
  }
  const t = check.tensor('images', images, { rank: 4 });
  const [n, h, w, c] = t.shape;
  check.check(n >= 1, 'images', 'at least one image', t);
  check.check(c === 1 || c === 3 || c === 4, 'images', 'NHWC images with 1, 3 or 4 channels', t);
  return { n, h, w, c: c as 1 | 3 | 4 };
}

function checkOptions(where: string, shape: Shape, options: GridOptions) {
  const check = validate(where);
  const cols = check.integer('options.cols', options.cols ?? Math.ceil(Math.sqrt(shape.n)), { min: 1 });
  const padding = check.integer('options.padding', options.padding ?? 2, { min: 0 });
  const range = check.oneOf('options.range', options.range ?? 'signed', ['signed', 'unit', 'byte']);
  const background = check.integer('options.background', options.background ?? 0, { min: 0, max: 255 });
  return { cols, padding, range, background };
}

function layout(values: ArrayLike<number>, shape: Shape, opts: ReturnType<typeof checkOptions>): RasterImage {
  const { n, h, w, c } = shape;
  const cols = Math.min(opts.cols, n);
  const rows = Math.ceil(n / cols);
  const pad = opts.padding;
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const data = new Uint8Array(width * height * c).fill(opts.background);
  if (c === 4) for (let i = 3; i < data.length; i += 4) data[i] = 255;
  const [scale, offset] = { signed: [127.5, 1], unit: [255, 0], byte: [1, 0] }[opts.range];
  for (let k = 0; k < n; k++) {
    const top = pad + Math.floor(k / cols) * (h + pad);
    const left = pad + (k % cols) * (w + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * c; x++) {
        const v = Math.round((values[((k * h + y) * w) * c + x] + offset) * scale);
        data[((top + y) * width + left) * c + x] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { width, height, channels: c, data };
}

function concatParts(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

function readSync(images: ImagesInput): ArrayLike<number> {
  return isTensor(images) ? images.dataSync() : concatParts(images.map((img) => img.dataSync()));
}

async function readAsync(images: ImagesInput): Promise<ArrayLike<number>> {
  return isTensor(images) ? images.data() : concatParts(await Promise.all(images.map((img) => img.data())));
}

/**
 * Tiles NHWC images (a `[N, H, W, C]` tensor or equal-sized `[H, W, C]` tensors) into one 8-bit
 * raster image, row by row. Creates no tensors. Reads synchronously (cpu, wasm, webgl); on webgpu
 * it throws naming `imageGridAsync`.
 */
export function imageGrid(images: ImagesInput, options: GridOptions = {}): RasterImage {
  const shape = checkImages('imageGrid', images);
  const opts = checkOptions('imageGrid', shape, options);
  assertSyncRead('imageGrid', 'await imageGridAsync(images, options)');
  return layout(readSync(images), shape, opts);
}

/** `imageGrid` reading tensors with `await data()` (required on webgpu, where dataSync is unreliable). */
export async function imageGridAsync(images: ImagesInput, options: GridOptions = {}): Promise<RasterImage> {
  const shape = checkImages('imageGridAsync', images);
  const opts = checkOptions('imageGridAsync', shape, options);
  return layout(await readAsync(images), shape, opts);
}

/** An image grid as PNG bytes (sync read: on webgpu it throws naming `imageGridPngAsync`). */
export function imageGridPng(images: ImagesInput, options: GridOptions & PngOptions = {}): Uint8Array {
  assertSyncRead('imageGridPng', 'await imageGridPngAsync(images, options)');
  return encodePng(imageGrid(images, options), options);
}

/** `imageGridPng` reading tensors with `await data()` (every backend; required on webgpu). */
export async function imageGridPngAsync(images: ImagesInput, options: GridOptions & PngOptions = {}): Promise<Uint8Array> {
  return encodePng(await imageGridAsync(images, options), options);
}
