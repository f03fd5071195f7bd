import * as tf from '@tensorflow/tfjs';
import { KernelRunner, runnerKernel } from '../kernel-runner';
import { polyphaseInputGrad } from './polyphase';
import { filterGradByRows } from './filter-grad-rows';
import { filterGradByGemm } from './filter-grad-gemm';
import { convGeometry, convWithPads, dilateRowsCols, fromNHWC, nhwcShape, toNHWC, type Pad } from './conv-geometry';

type TensorInfo = tf.TensorInfo;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Output channels from which the stride-1 filter gradient takes filterGradByRows on wasm. */
const ROWS_MIN_CHANNELS = 8;

/** The forward conv's geometry, which both gradient kernels receive. */
interface ConvGradGeometry {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
}

interface FilterGradAttrs extends ConvGradGeometry {
  filterShape: [number, number, number, number];
}

interface InputGradAttrs extends ConvGradGeometry {
  inputShape: [number, number, number, number];
}

/**
 * dW[kh, kw, ci, co] = sum_{n, oh, ow} xPadded[n, oh*s + kh, ow*s + kw, ci] dy[n, oh, ow, co].
 * Read with ci as the batch, n as the channels and dy as a [Ho, Wo, N, Co] filter, this is a
 * stride-1 forward conv whose dilation is the forward stride: one fast stock kernel (measured on
 * wasm at 0.5-0.6x the forward conv's time for 3x3 filters). 1x1 stride-1 filters on wasm: one
 * matrix product xᵀ dy instead (1.3x the forward's speed, vs 0.46x as a conv: the conv form's
 * contraction runs over only N channels per tap). Larger stride-1 filters on wasm: KH products
 * over shifted rows of x (filterGradByRows: 1.3-1.5x the conv form's speed). `byTaps` switches
 * the product forms on (default: on wasm).
 */
export function conv2dBackpropFilter(
  r: KernelRunner,
  xIn: TensorInfo,
  dyIn: TensorInfo,
  attrs: FilterGradAttrs,
  byTaps = r.backendName === 'wasm',
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
  if (byTaps && sh === 1 && sw === 1 && kh * kw === 1) return filterGradByTaps(r, x, dy, kh, kw, top, left);
  // The products' right-hand side is dy [K, Co]: for a few output channels (a UNet's last conv,
  // Co = 3) the conv form is faster (measured 7.7 vs 12.6 ms at [16, 32, 32, 32] -> 3).
  if (byTaps && sh === 1 && sw === 1 && dy.shape[3] >= ROWS_MIN_CHANNELS) {
    const g = filterGradByGemm(r, x, dy, kh, kw, top, left) ?? filterGradByRows(r, x, dy, kh, kw, top, left);
    if (g !== null) return g;
  }
  const xT = r.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyT = r.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  const padH: [number, number] = [top, kh + (ho - 1) * sh - top - h];
  const padW: [number, number] = [left, kw + (wo - 1) * sw - left - w];
  const g = convWithPads(r, 'Conv2D', xT, dyT, [sh, sw], padH, padW, kh, kw); // [Ci, KH, KW, Co]
  return r.transpose(g, [1, 2, 0, 3]);
}

/**
 * The stride-1 filter gradient (NHWC) as KH KW products window(kh, kw)ᵀ · dy: x is padded and
 * transposed once to [Ci, N, H', W'], each tap's window is a slice of it ([Ci, N Ho Wo]), and dy
 * [N Ho Wo, Co] is the right-hand matrix of every product, so XNNPACK packs it once (its operator
 * cache is keyed by the tensor) instead of once per tap (~5 ns per element each time).
 */
export function filterGradByTaps(
  r: KernelRunner,
  x: TensorInfo,
  dy: TensorInfo,
  kh: number,
  kw: number,
  top: number,
  left: number,
): TensorInfo {
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const rows = n * ho * wo;
  const xp = r.pad(x, [
    [0, 0],
    [top, Math.max(0, kh - 1 + ho - top - h)],
    [left, Math.max(0, kw - 1 + wo - left - w)],
    [0, 0],
  ]);
  const xpT = r.transpose(xp, [3, 0, 1, 2]); // [Ci, N, H', W']
  const dy2 = r.reshape(dy, [1, rows, co]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = r.reshape(r.slice(xpT, [0, 0, i, j], [ci, n, ho, wo]), [1, ci, rows]);
      taps.push(r.run('BatchMatMul', { a: window, b: dy2 }, { transposeA: false, transposeB: false })); // [1, Ci, Co]
    }
  }
  const g = taps.length === 1 ? taps[0] : r.run('Concat', taps as never, { axis: 0 }); // [KH KW, Ci, Co]
  return r.reshape(g, [kh, kw, ci, co]);
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
