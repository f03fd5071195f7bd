import * as tf from '@tensorflow/tfjs';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL, validate, type GroupNormAttrs } from '@fewstep/core';
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

  /**
   * x: [B, H, W, C] (or [B, C]) -> same shape. `silu: true` applies SiLU to the result, in the
   * same kernel where the backend has a fused one (@fewstep/backends registers it for wasm).
   */
  forward(x: tf.Tensor, opts: { silu?: boolean } = {}): tf.Tensor {
    const check = validate('GroupNorm.forward');
    check.tensor('x', x, { rank: [2, 3, 4] });
    if (x.shape[x.rank - 1] !== this.numChannels) check.fail('x', `a tensor with ${this.numChannels} channels (last axis)`, x);
    const silu = opts.silu ?? false;
    if (typeof silu !== 'boolean') check.fail('opts.silu', 'a boolean', silu);
    const attrs: GroupNormAttrs = { groups: this.numGroups, eps: this.eps, silu };
    if (x.dtype === 'float32' && tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined) {
      return fusedGroupNorm(x, this.weight, this.bias, attrs);
    }
    return tf.tidy(() => {
      const y = groupNorm(x, this.weight, this.bias, this.numGroups, this.eps);
      return silu ? tf.mul(y, tf.sigmoid(y)) : y;
    });
  }
}

/** The backend's fused GroupNorm (+ SiLU) kernel and its gradient kernel. */
function fusedGroupNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, attrs: GroupNormAttrs): tf.Tensor {
  const named = attrs as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((xIn: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xIn, w, b]);
    return {
      value: tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xIn, weight: w, bias: b }, named) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [xS, wS, bS]: tf.Tensor[]) =>
        tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x: xS, weight: wS, bias: bS }, named) as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, weight, bias);
}

/**
 * Per (sample, group) of xg [B, -1, G, C/G]: xc = xg - mean and rstd = 1/sqrt(var + eps)
 * [B, 1, G, 1]. `perChannel` broadcasts a [B, 1, G, 1] statistic to [B, 1, G, C/G] first: wasm's
 * binary ops take ~2x longer when the broadcast operand is 1 along the innermost axis.
 */
function centred(xg: tf.Tensor, eps: number): { xc: tf.Tensor; rstd: tf.Tensor } {
  const xc = tf.sub(xg, perChannel(groupMean(xg), xg.shape[3]!));
  return { xc, rstd: tf.rsqrt(tf.add(groupMean(tf.square(xc)), eps)) };
}

/**
 * The mean over axes 1 and 3 in one reduction: @fewstep/backends' wasm Mean pools axis 1 first
 * (vectorised over the channels, no copy) and then reduces the C/G channels of a tensor HW times
 * smaller (innermost first, as stock wasm does, costs a pass over the activation per call).
 */
function groupMean(t: tf.Tensor): tf.Tensor {
  return tf.mean(t, [1, 3], true);
}

function perChannel(stat: tf.Tensor, channelsPerGroup: number): tf.Tensor {
  const [b, , g] = stat.shape;
  return channelsPerGroup === 1 ? stat : tf.broadcastTo(stat, [b, 1, g, channelsPerGroup]);
}

/**
 * y = (x - mean) rstd w + b with mean and rstd = 1/sqrt(var + eps) per (sample, group), and its
 * gradient written by hand: autodiff of the textbook form ran 40 kernels over the activation per
 * call (forward + backward, incl. copies of saved tensors); this runs 6 forward (Mean, Sub,
 * Square, Mean, Mul, Add) and 11 backward, the rest on [B, 1, G, C/G] statistics. The backward
 * recomputes xc and rstd from x (4 of its 11) rather than saving them: a custom op that keeps an
 * intermediate trips tfjs's kernel leak check whenever IS_TEST is set. With xc = x - mean,
 * N = elements per group, and per-(b, c) sums D = sum_hw dy and S = sum_hw dy xc:
 *   m1 = mean(w dy) = sum_c w D / N,   m2 = mean(w dy xhat) = rstd sum_c w S / N,
 *   dx = rstd (w dy - m1 - xhat m2) = (rstd w) dy - (rstd^2 m2) xc - rstd m1,
 *   dw = sum_b rstd S,   db = sum_b D.
 */
function groupNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, G: number, eps: number): tf.Tensor {
  const shape = x.shape;
  const C = shape[shape.length - 1];
  const grouped = [shape[0], -1, G, C / G];
  const affine = [1, 1, G, C / G];
  // tfjs types the custom function's arguments as (Tensor | GradSaveFunc)[]: cast as losses' does.
  const f = tf.customGrad(((xIn: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xIn]);
    const value = tf.tidy(() => {
      const { xc, rstd } = centred(xIn.reshape(grouped), eps);
      const scale = tf.mul(rstd, w.reshape(affine)); // [B, 1, G, C/G]: small
      return tf.add(tf.mul(xc, scale), b.reshape(affine)).reshape(shape);
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, [xS]: tf.Tensor[]) => {
        const { xc, rstd } = centred(xS.reshape(grouped), eps);
        const n = xc.shape[1]! * (C / G);
        const wg = w.reshape(affine);
        const dyg = dy.reshape(xc.shape);
        const D = tf.sum(dyg, 1, true);
        const S = tf.sum(tf.mul(dyg, xc), 1, true);
        const m1 = tf.div(tf.sum(tf.mul(D, wg), 3, true), n);
        const m2 = tf.mul(tf.div(tf.sum(tf.mul(S, wg), 3, true), n), rstd);
        const c2 = perChannel(tf.mul(tf.square(rstd), m2), C / G);
        const c0 = perChannel(tf.mul(rstd, m1), C / G);
        const dx = tf.sub(tf.mul(dyg, tf.mul(rstd, wg)), tf.add(tf.mul(xc, c2), c0));
        return [dx.reshape(shape), tf.sum(tf.mul(S, rstd), [0, 1]).reshape([C]), tf.sum(D, [0, 1]).reshape([C])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, weight, bias);
}
