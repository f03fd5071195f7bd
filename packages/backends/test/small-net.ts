import * as tf from '@tensorflow/tfjs';
import { seeded } from './helpers';

/** Parameters of a small conv net: seeded, so every backend starts from the same values. */
export function makeParams(): Record<string, tf.Variable> {
  const p = (shape: number[], seed: number, scale: number) => tf.variable(seeded(shape, seed).mul(scale), true, `p${seed}`);
  return {
    conv1: p([3, 3, 3, 8], 1, 0.3),
    gamma1: p([8], 2, 0.1),
    conv2: p([3, 3, 8, 16], 3, 0.2),
    gamma2: p([16], 4, 0.1),
    depth: p([3, 3, 16, 1], 5, 0.3),
    conv3: p([1, 1, 16, 8], 6, 0.3),
    dense: p([8 * 8, 4], 7, 0.2),
    bias: p([4], 8, 0.1),
  };
}

/** GroupNorm as the SDK's networks build it: per-sample, per-group mean and variance. */
function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = x.reshape([n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const normed = g.sub(mean).div(variance.add(1e-5).sqrt()).reshape([n, h, w, c]);
  return normed.mul(gamma.add(1)) as tf.Tensor4D;
}

const silu = (x: tf.Tensor4D) => x.mul(tf.sigmoid(x)) as tf.Tensor4D;

/** conv s1 -> GN -> SiLU -> conv s2 -> GN -> SiLU -> depthwise -> nearest x2 up -> maxpool -> 1x1 conv -> dense. */
export function forward(p: Record<string, tf.Variable>, x: tf.Tensor4D): tf.Tensor {
  let h = tf.conv2d(x, p.conv1 as tf.Tensor4D, 1, 'same');
  h = silu(groupNorm(h, 2, p.gamma1));
  h = tf.conv2d(h, p.conv2 as tf.Tensor4D, 2, 'same');
  h = silu(groupNorm(h, 4, p.gamma2));
  h = tf.depthwiseConv2d(h, p.depth as tf.Tensor4D, 1, 'same');
  h = tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2]);
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.conv2d(h, p.conv3 as tf.Tensor4D, 1, 'valid');
  const pooled = tf.mean(h, [1, 2]); // [n, 8]
  const attn = tf.softmax(tf.matMul(pooled, pooled, false, true)); // [n, n]: a transposed matmul
  const mixed = tf.matMul(attn, pooled); // [n, 8]
  const feats = tf.concat([pooled, mixed], 1).reshape([-1, 16]);
  return tf.matMul(feats.tile([1, 4]), p.dense).add(p.bias);
}

export function lossFn(p: Record<string, tf.Variable>, x: tf.Tensor4D, y: tf.Tensor): () => tf.Scalar {
  return () => tf.losses.meanSquaredError(y, forward(p, x)) as tf.Scalar;
}

export async function gradsOn(backend: string): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await tf.setBackend(backend);
  const p = makeParams();
  const x = seeded([3, 12, 12, 3], 21) as tf.Tensor4D;
  const y = seeded([3, 4], 22);
  const { value, grads } = tf.variableGrads(lossFn(p, x, y), Object.values(p));
  const out: Record<string, Float32Array> = {};
  // data(), never dataSync(): webgpu's dataSync loses the device in some runtimes.
  for (const [name, v] of Object.entries(p)) out[name] = Float32Array.from(await grads[v.name].data());
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads), x, y, ...Object.values(p)]);
  return { loss, grads: out };
}

