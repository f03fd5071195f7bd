import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { initWeightAndBias, type InitSpec } from './init';
import { Module } from './module';
import { firDown, firUp } from './resample';

export interface Conv2dOptions {
  bias?: boolean;
  up?: boolean;
  down?: boolean;
  /** 1-D taps of the resample filter (default [1, 1]; NCSN++ uses [1, 3, 3, 1]). */
  resampleFilter?: number[];
  /** EDM's fused_resample: up = uncropped transposed FIR then a 'valid' conv; down = conv then FIR decimation. */
  fusedResample?: boolean;
  init?: InitSpec;
}

/**
 * EDM's Conv2d in NHWC: a k×k convolution (k = 0: no weight, a pure resampler) with optional FIR
 * up/down-sampling that runs before the conv (or fused, see options); bias last. State_dict names
 * `weight` [out, in, k, k] (kept here as [k, k, in, out]), `bias`, and the buffer `resample_filter`
 * [1, 1, L, L] when up or down is set.
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly up: boolean;
  readonly down: boolean;
  readonly fusedResample: boolean;
  readonly weight?: tf.Variable;
  readonly bias?: tf.Variable;
  readonly resampleFilter?: tf.Variable;

  constructor(inChannels: number, outChannels: number, kernel: number, opts: Conv2dOptions = {}) {
    super();
    const check = validate('Conv2d');
    this.inChannels = check.integer('inChannels', inChannels, { min: 1 });
    this.outChannels = check.integer('outChannels', outChannels, { min: 1 });
    this.kernel = check.integer('kernel', kernel, { min: 0 });
    this.up = opts.up ?? false;
    this.down = opts.down ?? false;
    this.fusedResample = opts.fusedResample ?? false;
    check.check(!(this.up && this.down), 'up/down', 'not both true', { up: this.up, down: this.down });
    const taps = check.numbers('resampleFilter', opts.resampleFilter ?? [1, 1], { minLength: 1 });
    const sum = taps.reduce((a, b) => a + b, 0);
    check.check(sum !== 0, 'resampleFilter', 'taps with a non-zero sum', taps);
    if (kernel > 0) {
      const fanIn = inChannels * kernel * kernel;
      const fanOut = outChannels * kernel * kernel;
      const { weight, bias } = initWeightAndBias('Conv2d', opts.init ?? {}, fanIn * outChannels, outChannels, fanIn, fanOut);
      this.weight = this.addParameter('weight', weight, [kernel, kernel, inChannels, outChannels], 'conv');
      if (opts.bias ?? true) this.bias = this.addParameter('bias', bias, [outChannels]);
    }
    if (this.up || this.down) {
      const L = taps.length;
      const f = new Float32Array(L * L);
      for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) f[i * L + j] = (taps[i] * taps[j]) / (sum * sum);
      this.resampleFilter = this.addBuffer('resample_filter', f, [1, 1, L, L]);
    }
  }

  /** x: [B, H, W, in] -> [B, H', W', out] (H' = 2H up, H/2 down). */
  forward(x: tf.Tensor): tf.Tensor4D {
    const check = validate('Conv2d.forward');
    check.tensor('x', x, { rank: 4 });
    if (x.shape[3] !== this.inChannels) check.fail('x', `an NHWC tensor with ${this.inChannels} channels`, x);
    return tf.tidy(() => {
      let y = x as tf.Tensor4D;
      const w = this.weight as tf.Tensor4D | undefined;
      const wPad = w ? Math.floor(this.kernel / 2) : 0;
      const f = this.resampleFilter ? (this.resampleFilter.reshape(this.resampleFilter.shape.slice(2)) as tf.Tensor2D) : undefined;
      const fPad = f ? Math.floor((f.shape[0] - 1) / 2) : 0;
      if (f && w && this.fusedResample && this.up) {
        y = conv(firUp(y, f, Math.max(fPad - wPad, 0)), w, Math.max(wPad - fPad, 0));
      } else if (f && w && this.fusedResample && this.down) {
        y = firDown(conv(y, w, wPad + fPad), f, 0);
      } else {
        if (f && this.up) y = firUp(y, f, fPad);
        if (f && this.down) y = firDown(y, f, fPad);
        // The bias inside the conv kernel when the conv is last (one pass less over the output).
        if (w) return conv(y, w, wPad, this.bias as tf.Tensor1D | undefined);
      }
      if (this.bias) y = y.add(this.bias);
      return y;
    });
  }
}

/** Stride-1 cross-correlation with zero padding `pad` on every side, plus `bias` if given. */
function conv(x: tf.Tensor4D, w: tf.Tensor4D, pad: number, bias?: tf.Tensor1D): tf.Tensor4D {
  const k = w.shape[0];
  const same = k % 2 === 1 && pad === (k - 1) / 2;
  const input = pad === 0 || same ? x : tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  const padding = pad !== 0 && same ? 'same' : 'valid';
  if (bias === undefined) return tf.conv2d(input, w, 1, padding);
  return tf.fused.conv2d({ x: input, filter: w, strides: 1, pad: padding, bias });
}
