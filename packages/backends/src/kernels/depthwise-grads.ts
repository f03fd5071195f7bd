import * as tf from '@tensorflow/tfjs';
import { KernelRunner, runnerKernel } from '../kernel-runner';
import { convGeometry, convWithPads, dilateRowsCols, type Pad } from './conv-geometry';

type TensorInfo = tf.TensorInfo;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

interface DepthwiseGradAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: Rounding;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
}

function checkDilationOne(where: string, dilations: DepthwiseGradAttrs['dilations']): void {
  const d = dilations === undefined ? [1, 1] : typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (d[0] !== 1 || d[1] !== 1) {
    // tfjs's own depthwise gradient rejects dilation > 1 before reaching a kernel; say so if it does.
    throw new Error(`@fewstep/backends ${where}: dilations must be 1, got [${d.join(', ')}]`);
  }
}

/**
 * dx of a depthwise conv: the depthwise forward conv of the zero-dilated dy with the flipped
 * filter, one channel per (ci, m) pair, then summed over the channel multiplier m.
 */
export function depthwiseBackpropInput(
  r: KernelRunner,
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: DepthwiseGradAttrs,
): TensorInfo {
  checkDilationOne('DepthwiseConv2dNativeBackpropInput', attrs.dilations);
  const inShape = attrs.inputShape as [number, number, number, number];
  const [kh, kw, ci, m] = filter.shape;
  const info = convGeometry(inShape, filter.shape as never, attrs.strides, attrs.pad, attrs.dimRoundingMode, true);
  const [n, h, w] = inShape;
  const [, ho, wo] = dy.shape;
  const { top, left } = info.padInfo;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const dyD = dilateRowsCols(r, dy, sh, sw);
  const flipped = r.reshape(r.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, ci * m, 1]);
  const padH: [number, number] = [kh - 1 - top, h + top - ho * sh];
  const padW: [number, number] = [kw - 1 - left, w + left - wo * sw];
  const dx = convWithPads(r, 'DepthwiseConv2dNative', dyD, flipped, [1, 1], padH, padW, h, w);
  if (m === 1) return dx;
  return r.run('Sum', { x: r.reshape(dx, [n, h, w, ci, m]) }, { axis: [4], keepDims: false });
}

/**
 * dW[kh, kw, ci, m] = sum_{n, oh, ow} xPadded[n, oh*s + kh, ow*s + kw, ci] dy[n, oh, ow, ci*M + m]:
 * one strided slice, product and reduction per filter tap (depthwise filters are small).
 */
export function depthwiseBackpropFilter(
  r: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: DepthwiseGradAttrs,
): TensorInfo {
  checkDilationOne('DepthwiseConv2dNativeBackpropFilter', attrs.dilations);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const [kh, kw, ci, m] = filterShape;
  const info = convGeometry(x.shape as never, filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode, true);
  const [n, h, w] = x.shape;
  const [, ho, wo] = dy.shape;
  const { top, left } = info.padInfo;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const needH = (ho - 1) * sh + kh;
  const needW = (wo - 1) * sw + kw;
  const xp = r.pad(x, [
    [0, 0],
    [top, Math.max(0, needH - top - h)],
    [left, Math.max(0, needW - left - w)],
    [0, 0],
  ]);
  const dy5 = r.reshape(dy, [n, ho, wo, ci, m]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const xs = r.run(
        'StridedSlice',
        { x: xp },
        {
          begin: [0, i, j, 0],
          end: [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, ci],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const prod = r.run('Multiply', { a: r.reshape(xs, [n, ho, wo, ci, 1]), b: dy5 });
      taps.push(r.reshape(r.run('Sum', { x: prod }, { axis: [0, 1, 2], keepDims: false }), [1, ci, m]));
    }
  }
  const all = taps.length === 1 ? taps[0] : r.run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
  return r.reshape(all, filterShape);
}

export function depthwiseBackpropInputConfig(backendName: string): tf.KernelConfig {
  return runnerKernel<{ dy: TensorInfo; filter: TensorInfo }, DepthwiseGradAttrs>(tf.DepthwiseConv2dNativeBackpropInput, backendName, (r, { dy, filter }, attrs) =>
    depthwiseBackpropInput(r, dy, filter, attrs),
  );
}

export function depthwiseBackpropFilterConfig(backendName: string): tf.KernelConfig {
  return runnerKernel<{ x: TensorInfo; dy: TensorInfo }, DepthwiseGradAttrs>(tf.DepthwiseConv2dNativeBackpropFilter, backendName, (r, { x, dy }, attrs) =>
    depthwiseBackpropFilter(r, x, dy, attrs),
  );
}
