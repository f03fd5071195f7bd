import * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';

type TensorInfo = tf.TensorInfo;
export type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** Padding and output geometry of a forward conv (dilation 1), as tfjs computes it. */
export function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise = false,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/**
 * A stride-1 conv (or depthwise conv) with per-side padding that may be negative. Negative
 * padding means "drop input rows"; we pad with max(p, 0) and slice the output instead, which is
 * the same thing and keeps the conv a stock forward kernel.
 */
export function convWithPads(
  r: KernelRunner,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  x: TensorInfo,
  filter: TensorInfo,
  dilations: [number, number],
  padH: [number, number],
  padW: [number, number],
  outH: number,
  outW: number,
): TensorInfo {
  const pos = (p: number) => Math.max(p, 0);
  const pad = [
    [0, 0],
    [pos(padH[0]), pos(padH[1])],
    [pos(padW[0]), pos(padW[1])],
    [0, 0],
  ];
  // A dilation only matters along an axis whose kernel is longer than 1; tfjs asserts otherwise.
  const dil: [number, number] = [filter.shape[0] > 1 ? dilations[0] : 1, filter.shape[1] > 1 ? dilations[1] : 1];
  const y = r.run(kernel, { x, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: dil });
  return r.slice(y, [0, pos(-padH[0]), pos(-padW[0]), 0], [y.shape[0], outH, outW, y.shape[3]]);
}

/**
 * Inserts (s - 1) zeros after every row / column of dy (NHWC): the stride of a forward conv seen
 * from its gradient. Output is [N, Ho*sh, Wo*sw, C] (the trailing zeros are harmless padding).
 */
export function dilateRowsCols(r: KernelRunner, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, ho, wo, c] = dy.shape;
  const five = r.reshape(dy, [n * ho, 1, wo, 1, c]);
  const padded = r.pad(five, [
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return r.reshape(padded, [n, ho * sh, wo * sw, c]);
}

/** NCHW <-> NHWC helpers for the gradient kernels (wasm convs are NHWC only). */
export function toNHWC(r: KernelRunner, t: TensorInfo, dataFormat: string | undefined): TensorInfo {
  return dataFormat === 'NCHW' ? r.transpose(t, [0, 2, 3, 1]) : t;
}

export function fromNHWC(r: KernelRunner, t: TensorInfo, dataFormat: string | undefined): TensorInfo {
  return dataFormat === 'NCHW' ? r.transpose(t, [0, 3, 1, 2]) : t;
}

export function nhwcShape(shape: number[], dataFormat: string | undefined): [number, number, number, number] {
  const [a, b, c, d] = shape;
  return (dataFormat === 'NCHW' ? [a, c, d, b] : [a, b, c, d]) as [number, number, number, number];
}
