import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { Module } from './module';

export interface GroupNormOptions {
  /** Upper bound on the number of groups (default 32). */
  numGroups?: number;
  /** Lower bound on channels per group (default 4). */
  minChannelsPerGroup?: number;
  /** Added to the variance (default 1e-5; SongUNet uses 1e-6). */
  eps?: number;
}

/**
 * EDM's GroupNorm: groups = min(numGroups, C // minChannelsPerGroup) contiguous channel ranges,
 * mean and biased variance per (sample, group), then a per-channel affine (weight 1, bias 0).
 */
export class GroupNorm extends Module {
  readonly numChannels: number;
  readonly numGroups: number;
  readonly eps: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(numChannels: number, opts: GroupNormOptions = {}) {
    super();
    const check = validate('GroupNorm');
    this.numChannels = check.integer('numChannels', numChannels, { min: 1 });
    const maxGroups = check.integer('numGroups', opts.numGroups ?? 32, { min: 1 });
    const minPer = check.integer('minChannelsPerGroup', opts.minChannelsPerGroup ?? 4, { min: 1 });
    this.eps = check.finite('eps', opts.eps ?? 1e-5, { gt: 0 });
    this.numGroups = Math.min(maxGroups, Math.floor(numChannels / minPer));
    if (this.numGroups < 1 || numChannels % this.numGroups !== 0) {
      check.fail('numChannels', `divisible into min(${maxGroups}, C // ${minPer}) >= 1 groups`, numChannels);
    }
    this.weight = this.addParameter('weight', new Float32Array(numChannels).fill(1), [numChannels]);
    this.bias = this.addParameter('bias', new Float32Array(numChannels), [numChannels]);
  }

  /** x: [B, H, W, C] (or [B, C]) -> same shape. */
  forward(x: tf.Tensor): tf.Tensor {
    const check = validate('GroupNorm.forward');
    check.tensor('x', x, { rank: [2, 3, 4] });
    if (x.shape[x.rank - 1] !== this.numChannels) check.fail('x', `a tensor with ${this.numChannels} channels (last axis)`, x);
    return tf.tidy(() => {
      const G = this.numGroups;
      const grouped = x.reshape([x.shape[0], -1, G, this.numChannels / G]);
      const { mean, variance } = tf.moments(grouped, [1, 3], true);
      const normed = grouped.sub(mean).mul(tf.rsqrt(variance.add(this.eps))).reshape(x.shape);
      return normed.mul(this.weight).add(this.bias);
    });
  }
}
