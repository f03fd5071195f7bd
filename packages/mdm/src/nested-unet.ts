import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { Conv2d, ForwardContext, InitRng as Rng } from '@fewstep/nn';
import { ZERO_INIT } from './blocks';
import { isNestedConfig, type NestedUNetConfig } from './config';
import { UNet, record, type NestedResult, type UNetOptions } from './unet';

/** x / std(x) per sample, with the unbiased (N - 1) standard deviation over (H, W, C). */
export function normalizeByStd(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const n = x.shape[1] * x.shape[2] * x.shape[3];
    const mean = tf.mean(x, [1, 2, 3], true);
    const variance = tf.sum(tf.square(tf.sub(x, mean)), [1, 2, 3], true).div(n - 1);
    return tf.div(x, tf.sqrt(variance)) as tf.Tensor4D;
  });
}

/**
 * apple/ml-mdm's NestedUNet (models/nested_unet.py): an outer UNet (middle blocks skipped by
 * default) whose lowest-resolution features go through `in_adapter` into a complete inner
 * network (a UNet, or another NestedUNet for 3+ resolutions) that also sees the next
 * resolution's noisy input; the inner features come back through `out_adapter`. Both adapters
 * are zero-initialised. Inputs/outputs: one tensor per resolution, highest first; with a mixed
 * batch only the first `B_high` low-resolution samples have a high-resolution version.
 */
export class NestedUNet extends UNet {
  declare readonly innerUnet: UNet;
  declare readonly inAdapter: Conv2d;
  declare readonly outAdapter: Conv2d;
  declare readonly skipNormalization: boolean;

  constructor(inputChannels: number, outputChannels: number, config: NestedUNetConfig, opts: UNetOptions = {}) {
    super(inputChannels, outputChannels, config, (opts = { ...opts, rng: opts.rng ?? new Rng(opts.seed ?? 0) }));
    const check = validate('NestedUNet');
    if (!isNestedConfig(config)) check.fail('config.inner', 'the inner network configuration', (config as NestedUNetConfig)?.inner);
    const rng = opts.rng!;
    const innerOpts = { nesting: true, rng };
    const inner = isNestedConfig(config.inner)
      ? new NestedUNet(inputChannels, outputChannels, config.inner, innerOpts)
      : new UNet(inputChannels, outputChannels, config.inner, innerOpts);
    const cOuter = this.config.resolutionChannels[this.config.resolutionChannels.length - 1];
    const cInner = inner.config.resolutionChannels[0];
    Object.assign(this, {
      skipNormalization: config.skipNormalization ?? false,
      innerUnet: this.addModule('inner_unet', inner),
      inAdapter: this.addModule('in_adapter', new Conv2d(cOuter, cInner, 3, { init: ZERO_INIT })),
      outAdapter: this.addModule('out_adapter', new Conv2d(cInner, cOuter, 3, { init: ZERO_INIT })),
    });
  }

  /** Own ratio 2^(L-1) times the inner network's first ratio, then the inner list. */
  override get nestRatio(): number[] {
    const inner = this.innerUnet.nestRatio;
    return [this.sideMultiple * (inner[0] ?? 1), ...inner];
  }

  override forwardNested(xs: tf.Tensor4D[], times: tf.Tensor, xFeat: tf.Tensor4D | undefined, ctx: ForwardContext | undefined, store?: Record<string, tf.Tensor>, prefix = ''): NestedResult {
    const temb = this.embed(times);
    record(store, prefix, 'temb', temb);
    const bh = xs[0].shape[0];
    const bl = xs[1].shape[0];
    // Only the first bh samples have a high-resolution version (mixed batches).
    const tembHigh = bh < bl ? temb.slice(0, bh) : temb;
    let h = this.convIn.forward(this.skipNormalization ? xs[0] : normalizeByStd(xs[0]));
    record(store, prefix, 'conv_in', h);
    if (xFeat) h = h.add(xFeat);
    const down = this.downPath(h, tembHigh, ctx);
    let xInner = this.inAdapter.forward(down.h);
    record(store, prefix, 'in_adapter', xInner);
    if (bh < bl) xInner = tf.concat([xInner, tf.zeros([bl - bh, xInner.shape[1], xInner.shape[2], xInner.shape[3]])], 0);
    const inner = this.innerUnet.forwardNested(xs.slice(1), times, xInner, ctx, store, `${prefix}inner_unet.`);
    const back = this.outAdapter.forward(inner.features);
    record(store, prefix, 'out_adapter', back);
    h = down.h.add(bh < bl ? back.slice(0, bh) : back);
    const features = this.upPath(h, tembHigh, down.skips, ctx);
    return { outputs: [this.outputLayer(features), ...inner.outputs], features };
  }
}
