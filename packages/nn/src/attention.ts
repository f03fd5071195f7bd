import * as tf from '@tensorflow/tfjs';

/**
 * EDM's multi-head self-attention core on an NHWC qkv tensor [B, H, W, 3C] whose channels are
 * interleaved (channel (head·d + c)·3 + j holds component j ∈ {q, k, v} of channel c of a head).
 * Returns a [B, H, W, C] with heads re-assembled as channel head·d + c. Scores are
 * softmax_k(q·k / sqrt(d)) per sample and head.
 */
export function qkvAttention(qkv: tf.Tensor4D, numHeads: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C3] = qkv.shape;
    const C = C3 / 3;
    const d = C / numHeads;
    const N = H * W;
    // [B, N, h, d, 3] -> [3, B, h, N, d] -> three [B h, N, d] tensors. One transpose first, then
    // an unstack along the leading axis: stock wasm's Unpack along the last axis of a rank-5
    // tensor was 41% of a unet-s32 training step (65x slower than this).
    const [q, k, v] = tf
      .unstack(tf.transpose(qkv.reshape([B, N, numHeads, d, 3]), [4, 0, 2, 1, 3]), 0)
      .map((t) => t.reshape([B * numHeads, N, d])) as tf.Tensor3D[];
    const scores = tf.matMul(q, k.mul(1 / Math.sqrt(d)) as tf.Tensor3D, false, true);
    const weights = tf.softmax(scores, -1) as tf.Tensor3D;
    const a = tf.matMul(weights, v);
    return a.reshape([B, numHeads, N, d]).transpose([0, 2, 1, 3]).reshape([B, H, W, C]) as tf.Tensor4D;
  });
}
