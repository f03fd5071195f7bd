import * as tf from '@tensorflow/tfjs';
import { KernelRunner, runnerKernel } from '../kernel-runner';
import { polyphaseInputGrad } from './polyphase';
import { convGeometry, convWithPads, dilateRowsCols, fromNHWC, nhwcShape, toNHWC, type Pad } from './conv-geometry';

type TensorInfo = tf.TensorInfo;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

interface FilterGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
}

interface InputGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
}

/**
 * dW[kh, kw, ci, co] = sum_{n, oh, ow} xPadded[n, oh*s + kh, ow*s + kw, ci] dy[n, oh, ow, co].
 * Read with ci as the batch, n as the channels and dy as a [Ho, Wo, N, Co] filter, this is a
 * stride-1 forward conv whose dilation is the forward stride: one fast stock kernel.
 */
export function conv2dBackpropFilter(
  r: KernelRunner,
  xIn: TensorInfo,
  dyIn: TensorInfo,
  attrs: FilterGradAttrs,
): TensorInfo {
  const x = toNHWC(r, xIn, attrs.dataFormat);
  const dy = toNHWC(r, dyIn, attrs.dataFormat);
  const [kh, kw] = attrs.filterShape;
  const info = convGeometry(x.shape as never, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  const [, h, w] = x.shape;
  const [, ho, wo] = dy.shape;
  const { top, left } = info.padInfo;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const xT = r.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyT = r.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  const padH: [number, number] = [top, kh + (ho - 1) * sh - top - h];
  const padW: [number, number] = [left, kw + (wo - 1) * sw - left - w];
  const g = convWithPads(r, 'Conv2D', xT, dyT, [sh, sw], padH, padW, kh, kw); // [Ci, KH, KW, Co]
  return r.transpose(g, [1, 2, 0, 3]);
}

/**
 * dx = the forward conv of dy, with stride-many zeros inserted, padded by (K - 1 - pad), with
 * the spatially flipped filter whose in/out channels are swapped.
 */
export function conv2dBackpropInput(
  r: KernelRunner,
  dyIn: TensorInfo,
  filter: TensorInfo,
  attrs: InputGradAttrs,
): TensorInfo {
  const dy = toNHWC(r, dyIn, attrs.dataFormat);
  const inShape = nhwcShape(attrs.inputShape, attrs.dataFormat);
  const filterShape = filter.shape as [number, number, number, number];
  const info = convGeometry(inShape, filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
  const [kh, kw] = filterShape;
  const [, h, w] = inShape;
  const [, ho, wo] = dy.shape;
  const { top, left } = info.padInfo;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const flipped = r.run('Reverse', { x: filter }, { dims: [0, 1] });
  const wT = r.transpose(flipped, [0, 1, 3, 2]); // [KH, KW, Co, Ci]
  if (sh > 1 || sw > 1) {
    const dxPoly = polyphaseInputGrad(r, dy, wT, inShape, [sh, sw], [top, left]);
    if (dxPoly !== null) return fromNHWC(r, dxPoly, attrs.dataFormat);
  }
  const dyD = dilateRowsCols(r, dy, sh, sw);
  const padH: [number, number] = [kh - 1 - top, h + top - ho * sh];
  const padW: [number, number] = [kw - 1 - left, w + left - wo * sw];
  const dx = convWithPads(r, 'Conv2D', dyD, wT, [1, 1], padH, padW, h, w);
  return fromNHWC(r, dx, attrs.dataFormat);
}

export function conv2dBackpropFilterConfig(backendName: string): tf.KernelConfig {
  return runnerKernel<{ x: TensorInfo; dy: TensorInfo }, FilterGradAttrs>(tf.Conv2DBackpropFilter, backendName, (r, { x, dy }, attrs) =>
    conv2dBackpropFilter(r, x, dy, attrs),
  );
}

export function conv2dBackpropInputConfig(backendName: string): tf.KernelConfig {
  return runnerKernel<{ dy: TensorInfo; filter: TensorInfo }, InputGradAttrs>(tf.Conv2DBackpropInput, backendName, (r, { dy, filter }, attrs) =>
    conv2dBackpropInput(r, dy, filter, attrs),
  );
}
