import * as tf from '@tensorflow/tfjs';

/**
 * EDM's FIR resampling as depthwise (per-channel) convolutions in NHWC. `filter` is the 2-D
 * resample filter [L, L] (outer(a, a) / (Σa)²); both functions work for any channel count and
 * are differentiable with respect to x.
 */

/** The filter as a depthwise kernel [L, L, C, 1], times `gain`, optionally flipped in both axes. */
function depthwiseKernel(filter: tf.Tensor2D, channels: number, gain: number, flip: boolean): tf.Tensor4D {
  const L = filter.shape[0];
  const f = flip ? tf.reverse(filter, [0, 1]) : filter;
  return f.mul(gain).reshape([L, L, 1, 1]).tile([1, 1, channels, 1]) as tf.Tensor4D;
}

/**
 * Down-sampling: per-channel correlation with `filter`, stride 2, zero padding `pad` on every side
 * (PyTorch conv2d(..., groups=C, stride=2, padding=pad)).
 */
export function firDown(x: tf.Tensor4D, filter: tf.Tensor2D, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    const k = depthwiseKernel(filter, x.shape[3], 1, false);
    const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
    return tf.depthwiseConv2d(padded, k, 2, 'valid');
  });
}

/** Zero insertion: out[2i, 2j] = x[i, j], zeros elsewhere; [B, H, W, C] -> [B, 2H, 2W, C]. */
export function zeroInsert(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    // Interleave along H, then along W (rank-5 pads keep every backend on its generic kernels).
    const rows = tf.pad(x.reshape([B, H, 1, W, C]), [[0, 0], [0, 0], [0, 1], [0, 0], [0, 0]]).reshape([B, 2 * H, W, 1, C]);
    return tf.pad(rows, [[0, 0], [0, 0], [0, 0], [0, 1], [0, 0]]).reshape([B, 2 * H, 2 * W, C]) as tf.Tensor4D;
  });
}

/**
 * Up-sampling: per-channel transposed convolution with 4·filter, stride 2, padding `pad`
 * (PyTorch conv_transpose2d(..., groups=C, stride=2, padding=pad)); output size 2(H−1) + L − 2·pad.
 * Computed as zero insertion followed by a correlation with the flipped filter, which needs neither
 * a grouped transposed conv nor ResizeNearestNeighbor (whose cpu gradient is wrong for batch > 1).
 */
export function firUp(x: tf.Tensor4D, filter: tf.Tensor2D, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    const L = filter.shape[0];
    const k = depthwiseKernel(filter, x.shape[3], 4, true);
    const z = zeroInsert(x);
    const before = L - 1 - pad;
    const after = L - 2 - pad;
    let p = tf.pad(z, [[0, 0], [Math.max(before, 0), Math.max(after, 0)], [Math.max(before, 0), Math.max(after, 0)], [0, 0]]);
    if (before < 0 || after < 0) {
      const lo = Math.max(-before, 0);
      const size = p.shape[1] - lo - Math.max(-after, 0);
      p = p.slice([0, lo, lo, 0], [-1, size, size, -1]);
    }
    return tf.depthwiseConv2d(p as tf.Tensor4D, k, 1, 'valid');
  });
}
