import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';

/**
 * Pixel values 0..255 to [-1, 1] (x / 127.5 - 1), the range diffusion models train on.
 * Works on plain arrays, so batches can be built without intermediate tensors.
 */
export function pixelsToSigned(pixels: ArrayLike<number>, out?: Float32Array): Float32Array {
  const check = validate('pixelsToSigned');
  check.check(pixels !== null && typeof pixels === 'object' && typeof pixels.length === 'number', 'pixels', 'an array of pixel values', pixels);
  const result = out ?? new Float32Array(pixels.length);
  check.check(result.length === pixels.length, 'out', `a Float32Array of length ${pixels.length}`, result.length);
  for (let i = 0; i < pixels.length; i++) result[i] = pixels[i] / 127.5 - 1;
  return result;
}

/** A tensor of pixel values 0..255 (any dtype) scaled to float32 in [-1, 1]. */
export function toSignedRange(x: tf.Tensor): tf.Tensor {
  validate('toSignedRange').tensor('x', x);
  return tf.tidy(() => tf.sub(tf.div(tf.cast(x, 'float32'), 127.5), 1));
}

/** A tensor in [-1, 1] mapped back to [0, 1], clipped (for display and PNG writing). */
export function signedToUnit(x: tf.Tensor): tf.Tensor {
  validate('signedToUnit').tensor('x', x);
  return tf.tidy(() => tf.clipByValue(tf.mul(tf.add(tf.cast(x, 'float32'), 1), 0.5), 0, 1));
}

/**
 * Pads NHWC images to `size x size` (e.g. MNIST 28 -> 32 for a UNet with power-of-two
 * resolutions), centred, with the background value `value` (default -1, black in [-1, 1]).
 */
export function padImages(x: tf.Tensor4D, size: number, value = -1): tf.Tensor4D {
  const check = validate('padImages');
  check.tensor('x', x, { rank: 4 });
  const [, h, w] = x.shape;
  check.integer('size', size, { min: Math.max(h, w) });
  check.finite('value', value);
  const top = Math.floor((size - h) / 2);
  const left = Math.floor((size - w) / 2);
  return tf.tidy(() =>
    tf.pad(x, [[0, 0], [top, size - h - top], [left, size - w - left], [0, 0]], value),
  );
}
