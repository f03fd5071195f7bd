import * as tf from '@tensorflow/tfjs';
import { makeOutput, readValues } from '../kernel-runner';

type TensorInfo = tf.TensorInfo;

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * MaxPool gradient: dy of each window goes to the window's first maximum (scan order, as the
 * cpu backend and TensorFlow do). Replaces wasm's kernel, which routes some windows wrongly.
 */
export function maxPoolGrad(
  backend: tf.KernelBackend,
  dy: TensorInfo,
  input: TensorInfo,
  attrs: MaxPoolGradAttrs,
): TensorInfo {
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [n, h, w, c] = input.shape;
  const { outHeight: ho, outWidth: wo, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const xs = readValues(backend, input);
  const g = readValues(backend, dy);
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ho; oh++) {
      const h0 = oh * sh - top;
      for (let ow = 0; ow < wo; ow++) {
        const w0 = ow * sw - left;
        const gBase = ((b * ho + oh) * wo + ow) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let i = Math.max(0, h0); i < Math.min(h, h0 + fh); i++) {
            for (let j = Math.max(0, w0); j < Math.min(w, w0 + fw); j++) {
              const idx = ((b * h + i) * w + j) * c + ch;
              if (xs[idx] > best || at < 0) {
                best = xs[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + ch];
        }
      }
    }
  }
  return makeOutput(backend, [n, h, w, c], 'float32', dx);
}

/** The input row (or column) that output index `o` copies in tfjs's ResizeNearestNeighbor. */
export function nearestSource(
  o: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
  let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  if (halfPixelCenters) src = Math.max(0, src);
  return src;
}

/**
 * Gradient of nearest-neighbour resizing: each dy element is added to the input pixel the
 * forward pass copied it from (the exact adjoint of tfjs's forward), per batch element —
 * the stock cpu kernel indexes dy with the input's batch stride and is wrong for batch > 1.
 */
export function resizeNearestGrad(
  backend: tf.KernelBackend,
  images: TensorInfo,
  dy: TensorInfo,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): TensorInfo {
  const [n, h, w, c] = images.shape;
  const [, ho, wo] = dy.shape;
  const srcRow = Array.from({ length: ho }, (_, o) => nearestSource(o, h, ho, alignCorners, halfPixelCenters));
  const srcCol = Array.from({ length: wo }, (_, o) => nearestSource(o, w, wo, alignCorners, halfPixelCenters));
  const g = readValues(backend, dy);
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ho; oh++) {
      const rowBase = (b * h + srcRow[oh]) * w;
      for (let ow = 0; ow < wo; ow++) {
        const d = (rowBase + srcCol[ow]) * c;
        const s = ((b * ho + oh) * wo + ow) * c;
        for (let ch = 0; ch < c; ch++) dx[d + ch] += g[s + ch];
      }
    }
  }
  return makeOutput(backend, [n, h, w, c], 'float32', dx);
}

export function maxPoolGradConfig(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.MaxPoolGrad,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
      return maxPoolGrad(backend as tf.KernelBackend, dy, input, attrs as unknown as MaxPoolGradAttrs);
    },
  };
}

export function resizeNearestGradConfig(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.ResizeNearestNeighborGrad,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { images, dy } = inputs as { images: TensorInfo; dy: TensorInfo };
      const { alignCorners, halfPixelCenters } = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean };
      return resizeNearestGrad(backend as tf.KernelBackend, images, dy, alignCorners, halfPixelCenters);
    },
  };
}
