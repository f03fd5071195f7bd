import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { qkvAttention } from './attention';
import { checkProbability, dropout, ForwardContext } from './context';
import { Conv2d } from './conv2d';
import { GroupNorm } from './groupnorm';
import type { InitSpec } from './init';
import { Linear } from './linear';
import { Module } from './module';
import { Rng } from './rng';

export interface UNetBlockOptions {
  up?: boolean;
  down?: boolean;
  attention?: boolean;
  /** Heads when attention is on; default outChannels // channelsPerHead (0 heads = no attention layers). */
  numHeads?: number;
  channelsPerHead?: number;
  dropout?: number;
  skipScale?: number;
  eps?: number;
  resampleFilter?: number[];
  /** A 1×1 projection on the resampled skip even when the channel count is unchanged (SongUNet). */
  resampleProj?: boolean;
  /** ADM's scale/shift conditioning (true) or SongUNet's additive embedding (false). */
  adaptiveScale?: boolean;
  init?: InitSpec;
  initZero?: InitSpec;
  initAttn?: InitSpec;
  /** Random source for initialisation (shared by the sub-layers, in construction order). */
  rng?: Rng;
}

/**
 * EDM's UNetBlock (the union of DDPM++, NCSN++ and ADM blocks): GroupNorm -> SiLU -> conv0 (with
 * up/down) -> embedding (additive or adaptive scale/shift) -> SiLU -> dropout -> conv1, residual
 * skip (1×1 / resampling when shapes change), times skipScale; then optional self-attention.
 */
export class UNetBlock extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly numHeads: number;
  readonly dropoutRate: number;
  readonly skipScale: number;
  readonly adaptiveScale: boolean;
  readonly norm0: GroupNorm;
  readonly conv0: Conv2d;
  readonly affine: Linear;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly skip?: Conv2d;
  readonly norm2?: GroupNorm;
  readonly qkv?: Conv2d;
  readonly proj?: Conv2d;

  constructor(inChannels: number, outChannels: number, embChannels: number, opts: UNetBlockOptions = {}) {
    super();
    const where = 'UNetBlock';
    const check = validate(where);
    this.inChannels = check.integer('inChannels', inChannels, { min: 1 });
    this.outChannels = check.integer('outChannels', outChannels, { min: 1 });
    check.integer('embChannels', embChannels, { min: 1 });
    const perHead = check.integer('channelsPerHead', opts.channelsPerHead ?? 64, { min: 1 });
    this.numHeads = !opts.attention ? 0 : check.integer('numHeads', opts.numHeads ?? Math.floor(outChannels / perHead), { min: 0 });
    if (this.numHeads > 0) check.check(outChannels % this.numHeads === 0, 'numHeads', `a divisor of outChannels ${outChannels}`, this.numHeads);
    this.dropoutRate = checkProbability(where, 'dropout', opts.dropout ?? 0);
    this.skipScale = check.finite('skipScale', opts.skipScale ?? 1);
    const eps = opts.eps ?? 1e-5;
    this.adaptiveScale = opts.adaptiveScale ?? true;
    const rng = opts.rng ?? new Rng(0);
    const init = { ...opts.init, rng };
    const initZero = { weight: 0, ...opts.initZero, rng };
    const initAttn = { ...(opts.initAttn ?? opts.init), rng };
    const resample = { up: opts.up, down: opts.down, resampleFilter: opts.resampleFilter };

    this.norm0 = this.addModule('norm0', new GroupNorm(inChannels, { eps }));
    this.conv0 = this.addModule('conv0', new Conv2d(inChannels, outChannels, 3, { ...resample, init }));
    this.affine = this.addModule('affine', new Linear(embChannels, outChannels * (this.adaptiveScale ? 2 : 1), { init }));
    this.norm1 = this.addModule('norm1', new GroupNorm(outChannels, { eps }));
    this.conv1 = this.addModule('conv1', new Conv2d(outChannels, outChannels, 3, { init: initZero }));
    if (outChannels !== inChannels || opts.up || opts.down) {
      const kernel = opts.resampleProj || outChannels !== inChannels ? 1 : 0;
      this.skip = this.addModule('skip', new Conv2d(inChannels, outChannels, kernel, { ...resample, init }));
    }
    if (this.numHeads > 0) {
      this.norm2 = this.addModule('norm2', new GroupNorm(outChannels, { eps }));
      this.qkv = this.addModule('qkv', new Conv2d(outChannels, outChannels * 3, 1, { init: initAttn }));
      this.proj = this.addModule('proj', new Conv2d(outChannels, outChannels, 1, { init: initZero }));
    }
  }

  /** x: [B, H, W, in], emb: [B, embChannels] -> [B, H', W', out]. */
  forward(x: tf.Tensor, emb: tf.Tensor, ctx: ForwardContext = new ForwardContext(this.training)): tf.Tensor4D {
    const check = validate('UNetBlock.forward');
    check.tensor('x', x, { rank: 4 });
    check.shape('emb', emb, [x.shape[0], this.affine.inFeatures]);
    return tf.tidy(() => {
      let h = this.conv0.forward(this.norm0.forward(x, { silu: true }));
      const params = this.affine.forward(emb).reshape([x.shape[0], 1, 1, -1]);
      if (this.adaptiveScale) {
        const [scale, shift] = tf.split(params, 2, 3);
        h = silu(shift.add(this.norm1.forward(h).mul(scale.add(1)))) as tf.Tensor4D;
      } else {
        h = this.norm1.forward(h.add(params), { silu: true }) as tf.Tensor4D;
      }
      h = this.conv1.forward(dropout(h, this.dropoutRate, ctx));
      h = h.add(this.skip ? this.skip.forward(x) : x).mul(this.skipScale);
      if (this.numHeads > 0 && this.norm2 && this.qkv && this.proj) {
        const a = qkvAttention(this.qkv.forward(this.norm2.forward(h)), this.numHeads);
        h = this.proj.forward(a).add(h).mul(this.skipScale);
      }
      return h;
    });
  }
}

/** silu(x) = x · sigmoid(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.sigmoid(x)));
}
