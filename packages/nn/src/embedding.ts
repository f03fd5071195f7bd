import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { Module } from './module';
import { Rng } from './rng';

function checkLabels(where: string, x: tf.Tensor): void {
  validate(where).tensor('noiseLabels', x, { rank: 1 });
}

/**
 * DDPM++/ADM timestep embedding: f_i = (1/M)^(i / (N/2 − e)), e = 1 with `endpoint`; output
 * [B, N] = [cos(x f), sin(x f)] (cos half first). Frequencies are float32, as in the reference.
 */
export class PositionalEmbedding extends Module {
  readonly numChannels: number;
  readonly maxPositions: number;
  readonly endpoint: boolean;
  private readonly freqs: Float32Array;

  constructor(numChannels: number, opts: { maxPositions?: number; endpoint?: boolean } = {}) {
    super();
    const check = validate('PositionalEmbedding');
    this.numChannels = check.integer('numChannels', numChannels, { min: 2 });
    check.check(numChannels % 2 === 0, 'numChannels', 'an even number', numChannels);
    this.maxPositions = check.finite('maxPositions', opts.maxPositions ?? 10000, { gt: 0 });
    this.endpoint = opts.endpoint ?? false;
    const half = numChannels / 2;
    const denom = half - (this.endpoint ? 1 : 0);
    check.check(denom > 0, 'numChannels', 'at least 4 with endpoint = true', numChannels);
    const base = Math.fround(1 / this.maxPositions);
    this.freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) this.freqs[i] = Math.pow(base, Math.fround(i / denom));
  }

  /** noiseLabels [B] -> [B, numChannels]. */
  forward(noiseLabels: tf.Tensor): tf.Tensor2D {
    checkLabels('PositionalEmbedding.forward', noiseLabels);
    return tf.tidy(() => {
      const angles = noiseLabels.toFloat().reshape([-1, 1]).mul(tf.tensor2d(this.freqs, [1, this.freqs.length]));
      return tf.concat([angles.cos(), angles.sin()], 1) as tf.Tensor2D;
    });
  }
}

/**
 * NCSN++ random Fourier features: buffer `freqs` [N/2] = N(0,1) · scale (EDM default 16, ECT 0.02;
 * a loaded checkpoint brings its own); output [cos(x 2π f), sin(x 2π f)].
 */
export class FourierEmbedding extends Module {
  readonly numChannels: number;
  readonly freqs: tf.Variable;

  constructor(numChannels: number, opts: { scale?: number; seed?: number } = {}) {
    super();
    const check = validate('FourierEmbedding');
    this.numChannels = check.integer('numChannels', numChannels, { min: 2 });
    check.check(numChannels % 2 === 0, 'numChannels', 'an even number', numChannels);
    const scale = check.finite('scale', opts.scale ?? 16);
    const draws = new Rng(opts.seed ?? 0).fill(numChannels / 2, 'normal').map((v) => v * scale);
    this.freqs = this.addBuffer('freqs', draws, [numChannels / 2]);
  }

  /** noiseLabels [B] -> [B, numChannels]. */
  forward(noiseLabels: tf.Tensor): tf.Tensor2D {
    checkLabels('FourierEmbedding.forward', noiseLabels);
    return tf.tidy(() => {
      // 2π·freqs is formed first, in float32, as in the reference.
      const w = this.freqs.mul(2 * Math.PI).reshape([1, -1]);
      const angles = noiseLabels.toFloat().reshape([-1, 1]).mul(w);
      return tf.concat([angles.cos(), angles.sin()], 1) as tf.Tensor2D;
    });
  }
}
