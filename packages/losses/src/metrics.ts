import * as tf from '@tensorflow/tfjs';
import { meanOverNonBatch, sumOverNonBatch, validate } from '@fewstep/core';

/**
 * A distance between a prediction and a target, per sample: ([B, ...], [B, ...]) -> [B].
 * Any function of this shape plugs into the consistency losses (e.g. LPIPS or another feature
 * distance built on a pretrained network).
 */
export type Distance = (prediction: tf.Tensor, target: tf.Tensor) => tf.Tensor1D;

function checkPair(where: string, a: tf.Tensor, b: tf.Tensor): void {
  const check = validate(where);
  // float32 both: an int32 or bool target reached tfjs' own dtype errors (sqrt, log).
  check.tensor('prediction', a, { rank: [1, 2, 3, 4, 5], dtype: 'float32' });
  check.tensor('target', b, { dtype: 'float32' });
  check.sameShape('prediction', a, 'target', b);
}

/** Mean over the non-batch axes of the squared difference (CM's 'l2'). */
export function l2Distance(): Distance {
  return (a, b) => {
    checkPair('l2Distance', a, b);
    return tf.tidy(() => meanOverNonBatch(tf.squaredDifference(a, b)));
  };
}

/** Sum over the non-batch axes of the squared difference (EDM's and ECT's inner sum). */
export function squaredL2SumDistance(): Distance {
  return (a, b) => {
    checkPair('squaredL2SumDistance', a, b);
    return tf.tidy(() => sumOverNonBatch(tf.squaredDifference(a, b)));
  };
}

/** Mean over the non-batch axes of the absolute difference (CM's 'l1'). */
export function l1Distance(): Distance {
  return (a, b) => {
    checkPair('l1Distance', a, b);
    return tf.tidy(() => meanOverNonBatch(tf.abs(tf.sub(a, b))));
  };
}

/**
 * CM's 'l2-32': both NHWC images bilinearly resized to size x size (half-pixel centres, no
 * antialias: PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`, also when
 * downsizing), then the mean squared difference.
 */
export function resizedL2Distance(size = 32): Distance {
  validate('resizedL2Distance').integer('size', size, { min: 1 });
  return (a, b) => {
    checkPair('resizedL2Distance', a, b);
    validate('resizedL2Distance').tensor('prediction', a, { rank: 4 });
    return tf.tidy(() => meanOverNonBatch(tf.squaredDifference(bilinearResize(a, size), bilinearResize(b, size))));
  };
}

/**
 * The [out, in] matrix of 1-D linear interpolation with half-pixel centres (PyTorch
 * align_corners=False: src = (dst + 0.5) in/out - 0.5, clamped at 0; no antialias).
 */
function interpolationMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const w = src - i0;
    m[o * inSize + i0] += 1 - w;
    m[o * inSize + i1] += w;
  }
  return tf.tensor2d(m, [outSize, inSize]);
}

/** Resizes axis 1 of [B, H, W, C] with an interpolation matrix (then the caller swaps H and W). */
function resizeAxis1(x: tf.Tensor4D, outSize: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const m = interpolationMatrix(H, outSize);
  const flat = tf.reshape(tf.transpose(x, [0, 2, 3, 1]), [B * W * C, H]);
  const out = tf.reshape(tf.matMul(flat, m, false, true), [B, W, C, outSize]);
  return tf.transpose(out, [0, 3, 1, 2]) as tf.Tensor4D;
}

/**
 * Bilinear resize of NHWC images to size x size with half-pixel centres, written as two
 * interpolation-matrix products. Why not `tf.image.resizeBilinear`: its gradient in tfjs 4.22
 * ignores `halfPixelCenters` (wrong gradients for the l2-32 loss); matrix products differentiate exactly.
 */
export function bilinearResize(x: tf.Tensor, size: number): tf.Tensor4D {
  const check = validate('bilinearResize');
  check.tensor('x', x, { rank: 4 });
  check.size('size', size, 1);
  return tf.tidy(() => {
    const h = resizeAxis1(x as tf.Tensor4D, size);
    const w = resizeAxis1(tf.transpose(h, [0, 2, 1, 3]), size);
    return tf.transpose(w, [0, 2, 1, 3]);
  });
}

export interface PseudoHuberOptions {
  /** The Huber scale c >= 0; c = 0 gives the plain (root) norm. */
  c: number;
  /**
   * How the squared difference is reduced before the square root: 'sum' (iCT / ECT:
   * sqrt(||a-b||^2 + c^2) - c) or 'mean' (UCGM's scaled variant sqrt(mean (a-b)^2 + c^2) - c).
   */
  over?: 'sum' | 'mean';
}

/** Pseudo-Huber distance sqrt(reduce((a-b)^2) + c^2) - c, per sample. */
export function pseudoHuberDistance(opts: PseudoHuberOptions): Distance {
  const check = validate('pseudoHuberDistance');
  const c = check.finite('c', opts?.c, { min: 0 });
  const over = check.oneOf('over', opts.over ?? 'sum', ['sum', 'mean'] as const);
  return (a, b) => {
    checkPair('pseudoHuberDistance', a, b);
    return tf.tidy(() => {
      const sq = tf.squaredDifference(a, b);
      const r = over === 'sum' ? sumOverNonBatch(sq) : meanOverNonBatch(sq);
      return tf.sub(tf.sqrt(tf.add(r, c * c)), c) as tf.Tensor1D;
    });
  };
}

/**
 * UCGM's cosine term: per pixel 1 - cos(a, b) over the channel (last) axis, with the cosine's
 * denominator clamped at 1e-8 like `F.cosine_similarity`, then the mean over the other axes.
 */
export function cosineDistance(): Distance {
  return (a, b) => {
    checkPair('cosineDistance', a, b);
    validate('cosineDistance').tensor('prediction', a, { rank: [2, 3, 4, 5] });
    return tf.tidy(() => {
      const axis = a.rank - 1;
      const dot = tf.sum(tf.mul(a, b), axis);
      const norms = tf.mul(tf.norm(a, 'euclidean', axis), tf.norm(b, 'euclidean', axis));
      const cos = tf.div(dot, tf.maximum(norms, 1e-8));
      return meanOverNonBatch(tf.sub(1, cos));
    });
  };
}

export type DistanceName = 'l2' | 'l1' | 'l2-32';

/** A distance from CM's `loss_norm` name, or the given function itself. */
export function resolveDistance(where: string, d: DistanceName | Distance): Distance {
  if (typeof d === 'function') return d;
  const name = validate(where).oneOf('distance', d, ['l2', 'l1', 'l2-32'] as const);
  if (name === 'l2') return l2Distance();
  if (name === 'l1') return l1Distance();
  return resizedL2Distance(32);
}
