import * as tf from '@tensorflow/tfjs';
import { validate, type NetworkOptions } from '@fewstep/core';
import { Conv2d, ForwardContext, InitRng as Rng, Linear, Module, type GroupNorm } from '@fewstep/nn';
import { ResNetBlock, SequentialNames, ZERO_INIT, embedTimes, groupNorm, silu, torchInit } from './blocks';
import { isNestedConfig, resolveConfig, type AnyUNetConfig, type ResolvedUNetConfig } from './config';

/** Options of a multi-resolution forward pass. */
export interface MdmForwardOptions extends NetworkOptions {
  /**
   * When given, the network stores copies of its intermediates here (caller-owned): `temb`,
   * `conv_in`, and for a NestedUNet `in_adapter`, `out_adapter`; an inner network's under
   * `inner_unet.` (e.g. `inner_unet.conv_in`).
   */
  intermediates?: Record<string, tf.Tensor>;
}

/**
 * A multi-resolution network: a list of noisy inputs (highest resolution first; batch sizes
 * non-decreasing) and one time per low-resolution sample -> one prediction per resolution.
 */
export interface MultiResNetwork {
  (xs: tf.Tensor[], t: tf.Tensor, opts?: MdmForwardOptions): tf.Tensor[];
  readonly multiResolution: true;
}

export interface UNetOptions {
  /** This UNet is the inner network of a NestedUNet: it adds the outer features after conv_in and returns its last features. */
  nesting?: boolean;
  /** Seed of the weight initialisation (PyTorch-style uniform init; zero-init layers stay zero). */
  seed?: number;
  rng?: Rng;
}

/** What a nested forward pass returns: one output per resolution and the features before the output layer. */
export interface NestedResult {
  outputs: tf.Tensor4D[];
  features: tf.Tensor4D;
}

export function record(store: Record<string, tf.Tensor> | undefined, prefix: string, name: string, t: tf.Tensor): void {
  if (store) store[prefix + name] = tf.keep(t.clone());
}

/**
 * apple/ml-mdm's UNet (models/unet.py) without text conditioning: time embedding, conv_in, down
 * blocks (stride-2 conv between levels), middle blocks, up blocks consuming the skip list,
 * GroupNorm-SiLU-conv output. Parameter names equal the reference state_dict.
 */
export class UNet extends Module {
  readonly inputChannels: number;
  readonly outputChannels: number;
  readonly config: ResolvedUNetConfig;
  readonly nesting: boolean;
  readonly tembLayer1: Linear;
  readonly tembLayer2: Linear;
  readonly convIn: Conv2d;
  readonly downBlocks: ResNetBlock[] = [];
  readonly midBlocks: ResNetBlock[] = [];
  readonly upBlocks: ResNetBlock[] = [];
  readonly normOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(inputChannels: number, outputChannels: number, config: AnyUNetConfig, opts: UNetOptions = {}) {
    super();
    const where = this.constructor.name;
    const check = validate(where);
    this.inputChannels = check.integer('inputChannels', inputChannels, { min: 1 });
    this.outputChannels = check.integer('outputChannels', outputChannels, { min: 1 });
    this.config = resolveConfig(where, config, isNestedConfig(config));
    this.nesting = opts.nesting ?? false;
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const c = this.config;
    const D = c.temporalDim;
    this.tembLayer1 = this.addModule('temb_layer1', new Linear(D / 4, D, { init: torchInit(rng) }));
    this.tembLayer2 = this.addModule('temb_layer2', new Linear(D, D, { init: torchInit(rng) }));
    let ch = c.resolutionChannels[0];
    this.convIn = this.addModule('conv_in', new Conv2d(inputChannels, ch, 3, { init: torchInit(rng) }));
    const L = c.resolutionChannels.length;
    const skipChannels = [ch];
    const block = (o: Partial<ConstructorParameters<typeof ResNetBlock>[0]> & { inChannels: number[]; outChannels: number }) =>
      new ResNetBlock({ temporalDim: D, numGroupsNorm: c.numGroupsNorm, dropout: c.dropout, useAttentionFfn: c.useAttentionFfn, numHeads: c.numHeads, attentionGroups: c.attentionGroups, rng, ...o });
    const attnLayers = (i: number) => (c.attentionLevels.includes(i) ? c.numAttentionLayers[i] : 0);
    const down = this.addModule('down_blocks', new SequentialNames());
    for (let i = 0; i < L; i++) {
      const out = c.resolutionChannels[i];
      const ins = Array.from({ length: c.numResnetsPerResolution[i] }, (_, j) => (j === 0 ? ch : out));
      ins.forEach(() => skipChannels.push(out));
      if (i !== L - 1) skipChannels.push(out);
      this.downBlocks.push(down.put(String(i), block({ inChannels: ins, outChannels: out, numAttentionLayers: attnLayers(i), downsample: i !== L - 1 })));
      ch = out;
    }
    if (!c.skipMidBlocks) {
      const mid = this.addModule('mid_blocks', new SequentialNames());
      this.midBlocks.push(mid.put('0', block({ inChannels: [ch], outChannels: ch, numAttentionLayers: 1 })));
      this.midBlocks.push(mid.put('1', block({ inChannels: [ch], outChannels: ch })));
    }
    const up = this.addModule('up_blocks', new SequentialNames());
    for (let i = L - 1; i >= 0; i--) {
      const out = c.resolutionChannels[i];
      const ins: number[] = [];
      for (let j = 0; j <= c.numResnetsPerResolution[i]; j++) {
        ins.push(ch + skipChannels.pop()!);
        ch = out;
      }
      this.upBlocks.push(up.put(String(L - 1 - i), block({ inChannels: ins, outChannels: out, numAttentionLayers: attnLayers(i), upsample: i !== 0 })));
    }
    this.normOut = this.addModule('norm_out', groupNorm(ch, c.numGroupsNorm));
    this.convOut = this.addModule('conv_out', new Conv2d(ch, outputChannels, 3, { init: ZERO_INIT }));
  }

  /** Down-sampling factor between consecutive inputs, highest resolution first ([] for a plain UNet). */
  get nestRatio(): number[] {
    return [];
  }

  /** Number of resolutions (inputs and outputs). */
  get numResolutions(): number {
    return this.nestRatio.length + 1;
  }

  /** The side of every resolution for a highest-resolution side `side0`. */
  resolutions(side0: number): number[] {
    const ratio = this.nestRatio;
    const scales = [...ratio, 1];
    const top = ratio[0] ?? 1;
    return scales.map((s) => side0 / (top / s));
  }

  /** The scale s_k of every resolution (nest_ratio + [1]): its side relative to the lowest resolution. */
  get scales(): number[] {
    return [...this.nestRatio, 1];
  }

  /** Multiple that the highest-resolution side must be of (every stride-2 conv sees an even size). */
  get sideMultiple(): number {
    return 2 ** (this.config.resolutionChannels.length - 1);
  }

  /** temb = temb_layer2(silu(temb_layer1(sinusoidal(times)))). */
  embed(times: tf.Tensor): tf.Tensor2D {
    return embedTimes(times, this.config.temporalDim, this.tembLayer1, this.tembLayer2);
  }

  /** Down path: returns the lowest-resolution features and the skip list (conv_in output first). */
  protected downPath(h: tf.Tensor4D, temb: tf.Tensor, ctx?: ForwardContext): { h: tf.Tensor4D; skips: tf.Tensor4D[] } {
    const skips: tf.Tensor4D[] = [h];
    for (const blk of this.downBlocks) {
      const { y, activations } = blk.forward(h, temb, undefined, ctx);
      skips.push(...activations);
      h = y;
    }
    return { h, skips };
  }

  protected midPath(h: tf.Tensor4D, temb: tf.Tensor, ctx?: ForwardContext): tf.Tensor4D {
    for (const blk of this.midBlocks) h = blk.forward(h, temb, undefined, ctx).y;
    return h;
  }

  /** Up path: level ri consumes the last n_ri + 1 skips, most recent first. */
  protected upPath(h: tf.Tensor4D, temb: tf.Tensor, skips: tf.Tensor4D[], ctx?: ForwardContext): tf.Tensor4D {
    const L = this.config.resolutionChannels.length;
    this.upBlocks.forEach((blk, u) => {
      const n = this.config.numResnetsPerResolution[L - 1 - u] + 1;
      const mine = skips.splice(skips.length - n).reverse();
      h = blk.forward(h, temb, mine, ctx).y;
    });
    return h;
  }

  protected outputLayer(h: tf.Tensor4D): tf.Tensor4D {
    return this.convOut.forward(silu(this.normOut.forward(h)));
  }

  /**
   * The denoising pass on the pyramid `xs` (highest first), with `xFeat` added after conv_in when
   * this network is nested. Used by `forward` and by an outer NestedUNet; call inside a tidy.
   */
  forwardNested(xs: tf.Tensor4D[], times: tf.Tensor, xFeat: tf.Tensor4D | undefined, ctx: ForwardContext | undefined, store?: Record<string, tf.Tensor>, prefix = ''): NestedResult {
    const temb = this.embed(times);
    record(store, prefix, 'temb', temb);
    let h = this.convIn.forward(xs[0]);
    record(store, prefix, 'conv_in', h);
    if (xFeat) h = h.add(xFeat);
    const down = this.downPath(h, temb, ctx);
    h = this.midPath(down.h, temb, ctx);
    const features = this.upPath(h, temb, down.skips, ctx);
    return { outputs: [this.outputLayer(features)], features };
  }

  /**
   * Runs the network on a pyramid (one tensor per resolution, highest first, NHWC) and one time
   * (diffusion step index) per sample of the lowest resolution. Returns one prediction per
   * resolution, each with its input's batch size.
   */
  forward(xs: tf.Tensor[], times: tf.Tensor, opts: MdmForwardOptions = {}): tf.Tensor4D[] {
    const where = `${this.constructor.name}.forward`;
    this.checkPyramid(where, xs, times);
    const training = opts.train ?? this.training;
    const ctx = training ? new ForwardContext(true, opts.dropoutSeed) : undefined;
    const store = opts.intermediates;
    return tf.tidy(() => this.forwardNested(xs as tf.Tensor4D[], times, undefined, ctx, store).outputs);
  }

  /** This network as a fewstep multi-resolution network function. */
  asNetwork(): MultiResNetwork {
    const fn = (xs: tf.Tensor[], t: tf.Tensor, opts?: MdmForwardOptions) => this.forward(xs, t, opts);
    return Object.assign(fn, { multiResolution: true as const });
  }

  /** Validates a pyramid: count, channels, sides (ratio between levels), non-decreasing batches, times. */
  checkPyramid(where: string, xs: tf.Tensor[], times: tf.Tensor): void {
    const check = validate(where);
    const R = this.numResolutions;
    if (!Array.isArray(xs) || xs.length !== R) check.fail('xs', `an array of ${R} tensors (one per resolution, highest first)`, xs);
    xs.forEach((x, k) => check.tensor(`xs[${k}]`, x, { rank: 4 }));
    const side0 = xs[0].shape[1] as number;
    if (side0 % (this.sideMultiple * (this.nestRatio[0] ?? 1)) !== 0) {
      check.fail('xs[0]', `a side that is a multiple of ${this.sideMultiple * (this.nestRatio[0] ?? 1)} (the network's levels)`, xs[0]);
    }
    const sides = this.resolutions(side0);
    xs.forEach((x, k) => {
      const want = [null, sides[k], sides[k], this.inputChannels];
      if (x.shape[1] !== sides[k] || x.shape[2] !== sides[k] || x.shape[3] !== this.inputChannels) {
        check.fail(`xs[${k}]`, `a tensor of shape [B, ${want.slice(1).join(', ')}] (resolutions ${sides.join('/')} for nest ratio [${this.nestRatio}])`, x);
      }
      if (k > 0 && x.shape[0] < xs[k - 1].shape[0]) check.fail(`xs[${k}]`, `at least as many samples as xs[${k - 1}] (${xs[k - 1].shape[0]})`, x);
    });
    check.tensor('times', times, { rank: 1 });
    const bl = xs[R - 1].shape[0];
    if (times.shape[0] !== bl) check.fail('times', `one time per lowest-resolution sample (${bl})`, times);
  }
}

/** Marks a function of (xs, t, opts) -> predictions as a multi-resolution network (e.g. a user model or a stub). */
export function multiResNetwork(fn: (xs: tf.Tensor[], t: tf.Tensor, opts?: MdmForwardOptions) => tf.Tensor[]): MultiResNetwork {
  validate('multiResNetwork').fn('fn', fn);
  return Object.assign((xs: tf.Tensor[], t: tf.Tensor, opts?: MdmForwardOptions) => fn(xs, t, opts), { multiResolution: true as const });
}
