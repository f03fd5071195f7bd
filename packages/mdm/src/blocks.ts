import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { Conv2d, ForwardContext, GroupNorm, InitRng as Rng, Linear, Module, dropout, type InitSpec } from '@fewstep/nn';

/**
 * The building blocks of apple/ml-mdm's UNet (models/unet.py), NHWC, with parameter names equal
 * to the reference state_dict names so that a PyTorch checkpoint loads with `loadStateDict`.
 */

/** PyTorch's default init for Conv/Linear: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias. */
export function torchInit(rng: Rng): InitSpec {
  return { mode: 'kaiming_uniform', weight: 1 / Math.sqrt(3), bias: 1 / Math.sqrt(3), rng };
}

/** A zero-initialised layer (the reference's `zero_module`: conv2 of a ResNet, proj_out, adapters). */
export const ZERO_INIT: InitSpec = { weight: 0, bias: 0 };

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Exact (erf) GELU, PyTorch's nn.GELU() default. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** A GroupNorm with exactly `groups` groups (PyTorch semantics, eps 1e-5). */
export function groupNorm(channels: number, groups: number): GroupNorm {
  const check = validate('groupNorm');
  check.integer('groups', groups, { min: 1 });
  if (channels % groups !== 0) check.fail('channels', `a multiple of the number of groups (${groups})`, channels);
  return new GroupNorm(channels, { numGroups: groups, minChannelsPerGroup: 1, eps: 1e-5 });
}

/** A 3x3 conv, stride 2, padding 1 on every side (PyTorch semantics; TF "same" would pad bottom/right only). */
export function strideTwoConv(conv: Conv2d, x: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const padded = tf.pad(x as tf.Tensor4D, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const y = tf.conv2d(padded, conv.weight as tf.Tensor4D, 2, 'valid');
    return (conv.bias ? y.add(conv.bias) : y) as tf.Tensor4D;
  });
}

/**
 * The sinusoidal time embedding + 2-layer MLP (`UNet.create_temporal_embedding`):
 * half = D // 8, freq[k] = exp(-k ln(10000)/half), e = [sin(t freq), cos(t freq)],
 * temb = layer2(silu(layer1(e))). `t` are diffusion step indices (one float per sample).
 */
export function sinusoidalEmbedding(times: tf.Tensor, temporalDim: number): tf.Tensor2D {
  const half = Math.floor(temporalDim / 8);
  return tf.tidy(() => {
    const freq = tf.tensor1d(Float32Array.from({ length: half }, (_, k) => Math.exp((-k * Math.log(10000)) / half)));
    const arg = tf.mul(times.reshape([-1, 1]).toFloat(), freq.reshape([1, half]));
    let e = tf.concat([tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D;
    if (e.shape[1] % 2 === 1) e = tf.concat([e, tf.zeros([e.shape[0], 1])], 1);
    return e as tf.Tensor2D;
  });
}

/** temb = layer2(silu(layer1(sinusoidal(t)))): the UNet's time MLP (no activation after layer 2). */
export function embedTimes(times: tf.Tensor, temporalDim: number, layer1: Linear, layer2: Linear): tf.Tensor2D {
  return tf.tidy(() => layer2.forward(silu(layer1.forward(sinusoidalEmbedding(times, temporalDim)))) as tf.Tensor2D);
}

/** The time embedding as its own module (state_dict names `temb_layer1.*`, `temb_layer2.*`, as in a UNet). */
export class TimeEmbedding extends Module {
  readonly temporalDim: number;
  readonly layer1: Linear;
  readonly layer2: Linear;

  constructor(temporalDim: number, rng = new Rng(0)) {
    super();
    const D = (this.temporalDim = validate('TimeEmbedding').integer('temporalDim', temporalDim, { min: 8 }));
    if (D % 8 !== 0) validate('TimeEmbedding').fail('temporalDim', 'a multiple of 8 (the embedding has 2 (D // 8) = D / 4 values)', D);
    this.layer1 = this.addModule('temb_layer1', new Linear(Math.floor(D / 4), D, { init: torchInit(rng) }));
    this.layer2 = this.addModule('temb_layer2', new Linear(D, D, { init: torchInit(rng) }));
  }

  /** times [B] (diffusion step indices) -> [B, D]. */
  forward(times: tf.Tensor): tf.Tensor2D {
    validate('TimeEmbedding.forward').tensor('times', times, { rank: 1 });
    return embedTimes(times, this.temporalDim, this.layer1, this.layer2);
  }
}

export interface ResNetOptions {
  inChannels: number;
  outChannels: number;
  temporalDim: number;
  numGroupsNorm?: number;
  dropout?: number;
  rng?: Rng;
}

/**
 * `unet:ResNet`: h = conv1(silu(norm1(x))); (ta, tb) = chunk(time_layer(silu(temb))); h =
 * silu(norm2(h)(1 + ta) + tb); h = conv2(dropout(h)); out = h + (conv3(x) when channels change).
 */
export class ResNet extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly dropoutRate: number;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly timeLayer: Linear;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly conv3?: Conv2d;

  constructor(opts: ResNetOptions) {
    super();
    const check = validate('ResNet');
    const cin = (this.inChannels = check.integer('inChannels', opts.inChannels, { min: 1 }));
    const cout = (this.outChannels = check.integer('outChannels', opts.outChannels, { min: 1 }));
    const D = check.integer('temporalDim', opts.temporalDim, { min: 1 });
    const groups = opts.numGroupsNorm ?? 32;
    this.dropoutRate = check.finite('dropout', opts.dropout ?? 0, { min: 0, lt: 1 });
    const rng = opts.rng ?? new Rng(0);
    this.norm1 = this.addModule('norm1', groupNorm(cin, groups));
    this.conv1 = this.addModule('conv1', new Conv2d(cin, cout, 3, { init: torchInit(rng) }));
    this.timeLayer = this.addModule('time_layer', new Linear(D, 2 * cout, { init: torchInit(rng) }));
    this.norm2 = this.addModule('norm2', groupNorm(cout, groups));
    this.conv2 = this.addModule('conv2', new Conv2d(cout, cout, 3, { init: ZERO_INIT }));
    if (cin !== cout) this.conv3 = this.addModule('conv3', new Conv2d(cin, cout, 1, { init: torchInit(rng) }));
  }

  forward(x: tf.Tensor, temb: tf.Tensor, ctx?: ForwardContext): tf.Tensor4D {
    const check = validate('ResNet.forward');
    check.tensor('x', x, { rank: 4 });
    if (x.shape[3] !== this.inChannels) check.fail('x', `an NHWC tensor with ${this.inChannels} channels`, x);
    check.tensor('temb', temb, { rank: 2 });
    if (temb.shape[0] !== x.shape[0]) check.fail('temb', `one row per sample of x (${x.shape[0]})`, temb);
    return tf.tidy(() => {
      let h: tf.Tensor = this.conv1.forward(silu(this.norm1.forward(x)));
      const t = this.timeLayer.forward(silu(temb)).reshape([x.shape[0], 1, 1, 2 * this.outChannels]);
      const [ta, tb] = tf.split(t, 2, 3);
      h = silu(this.norm2.forward(h).mul(ta.add(1)).add(tb));
      if (ctx) h = dropout(h, this.dropoutRate, ctx);
      h = this.conv2.forward(h);
      const skip = this.conv3 ? this.conv3.forward(x) : x;
      return h.add(skip) as tf.Tensor4D;
    });
  }
}

export interface SelfAttentionOptions {
  channels: number;
  numHeads?: number;
  useAttentionFfn?: boolean;
  /** GroupNorm groups (default 32, as hard-coded in the reference). */
  groups?: number;
  rng?: Rng;
}

/**
 * `unet:SelfAttention` without cross-attention: GroupNorm(32) -> 1x1 qkv conv, q/k/v are channel
 * thirds, head h owns channels [h ch, (h+1) ch); weights softmax((q s)·(k s)) with s = ch^-1/4;
 * y = x + proj_out(a), then optionally y + ffn(y) (GroupNorm(32), 1x1 C->4C, GELU, 1x1 4C->C).
 */
export class SelfAttention extends Module {
  readonly channels: number;
  readonly numHeads: number;
  readonly norm: GroupNorm;
  readonly qkv: Conv2d;
  readonly projOut: Conv2d;
  readonly ffn?: { norm: GroupNorm; up: Conv2d; down: Conv2d };

  constructor(opts: SelfAttentionOptions) {
    super();
    const check = validate('SelfAttention');
    const C = (this.channels = check.integer('channels', opts.channels, { min: 1 }));
    this.numHeads = check.integer('numHeads', opts.numHeads ?? 8, { min: 1 });
    if (C % this.numHeads !== 0) check.fail('numHeads', `a divisor of channels (${C})`, this.numHeads);
    const rng = opts.rng ?? new Rng(0);
    // The reference hard-codes 32 groups here, whatever num_groups_norm says.
    const groups = opts.groups ?? 32;
    this.norm = this.addModule('norm', groupNorm(C, groups));
    this.qkv = this.addModule('qkv', new Conv2d(C, 3 * C, 1, { init: torchInit(rng) }));
    this.projOut = this.addModule('proj_out', new Conv2d(C, C, 1, { init: ZERO_INIT }));
    if (opts.useAttentionFfn) {
      // nn.Sequential(GroupNorm, Conv, GELU, Conv): indices 0, 1, 3 hold parameters.
      const seq = this.addModule('ffn', new SequentialNames());
      this.ffn = {
        norm: seq.put('0', groupNorm(C, groups)),
        up: seq.put('1', new Conv2d(C, 4 * C, 1, { init: torchInit(rng) })),
        down: seq.put('3', new Conv2d(4 * C, C, 1, { init: ZERO_INIT })),
      };
    }
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    const check = validate('SelfAttention.forward');
    check.tensor('x', x, { rank: 4 });
    if (x.shape[3] !== this.channels) check.fail('x', `an NHWC tensor with ${this.channels} channels`, x);
    return tf.tidy(() => {
      const [B, H, W, C] = x.shape;
      const heads = this.numHeads;
      const ch = C / heads;
      const N = H * W;
      const qkv = this.qkv.forward(this.norm.forward(x)).reshape([B, N, 3 * C]);
      const scale = 1 / Math.sqrt(Math.sqrt(ch));
      // [B, N, C] -> [B*heads, N, ch] with head h = channels [h ch, (h+1) ch).
      const perHead = (t: tf.Tensor) => t.reshape([B, N, heads, ch]).transpose([0, 2, 1, 3]).reshape([B * heads, N, ch]) as tf.Tensor3D;
      const [q, k, v] = tf.split(qkv, 3, 2).map(perHead);
      const w = tf.softmax(tf.matMul(q.mul(scale) as tf.Tensor3D, k.mul(scale) as tf.Tensor3D, false, true), -1) as tf.Tensor3D;
      const a = tf.matMul(w, v).reshape([B, heads, N, ch]).transpose([0, 2, 1, 3]).reshape([B, H, W, C]);
      let y: tf.Tensor = x.add(this.projOut.forward(a));
      if (this.ffn) {
        const f = this.ffn.down.forward(gelu(this.ffn.up.forward(this.ffn.norm.forward(y))));
        y = y.add(f);
      }
      return y as tf.Tensor4D;
    });
  }
}

/** A container whose children are named '0', '1', ... (PyTorch nn.ModuleList / nn.Sequential). */
export class SequentialNames extends Module {
  put<M extends Module>(name: string, m: M): M {
    return this.addModule(name, m);
  }
}

export interface ResNetBlockOptions {
  temporalDim: number;
  /** Input channels of each ResNet (skip channels already added for up blocks). */
  inChannels: number[];
  outChannels: number;
  /** Attention layers after each ResNet (0 = none). */
  numAttentionLayers?: number;
  useAttentionFfn?: boolean;
  numHeads?: number;
  attentionGroups?: number;
  downsample?: boolean;
  upsample?: boolean;
  numGroupsNorm?: number;
  dropout?: number;
  rng?: Rng;
}

/**
 * `unet:ResNetBlock`: n ResNets, each followed by L attention layers; before ResNet i the next
 * skip tensor is concatenated (x first); then a stride-2 conv (down) or nearest x2 + conv (up).
 * `forward` returns the output and the activation list (every ResNet output, and the resampled one).
 */
export class ResNetBlock extends Module {
  readonly resnets: ResNet[] = [];
  readonly attn: SelfAttention[] = [];
  readonly numAttentionLayers: number;
  readonly downsample: boolean;
  readonly upsample: boolean;
  readonly resample?: Conv2d;

  constructor(opts: ResNetBlockOptions) {
    super();
    const check = validate('ResNetBlock');
    check.check(Array.isArray(opts.inChannels) && opts.inChannels.length > 0, 'inChannels', 'a non-empty array', opts.inChannels);
    this.downsample = opts.downsample ?? false;
    this.upsample = opts.upsample ?? false;
    check.check(!(this.downsample && this.upsample), 'downsample/upsample', 'not both true', opts);
    this.numAttentionLayers = check.integer('numAttentionLayers', opts.numAttentionLayers ?? 0, { min: 0 });
    const rng = opts.rng ?? new Rng(0);
    const resnets = this.addModule('resnets', new SequentialNames());
    opts.inChannels.forEach((cin, i) => {
      this.resnets.push(
        resnets.put(
          String(i),
          new ResNet({ inChannels: cin, outChannels: opts.outChannels, temporalDim: opts.temporalDim, numGroupsNorm: opts.numGroupsNorm, dropout: opts.dropout, rng }),
        ),
      );
    });
    if (this.numAttentionLayers > 0) {
      const attn = this.addModule('attn', new SequentialNames());
      for (let i = 0; i < this.resnets.length * this.numAttentionLayers; i++) {
        this.attn.push(attn.put(String(i), new SelfAttention({ channels: opts.outChannels, numHeads: opts.numHeads, useAttentionFfn: opts.useAttentionFfn, groups: opts.attentionGroups, rng })));
      }
    }
    if (this.downsample || this.upsample) {
      this.resample = this.addModule('resample', new Conv2d(opts.outChannels, opts.outChannels, 3, { init: torchInit(rng) }));
    }
  }

  /**
   * x [B, H, W, C]; `skips` (consumed from the front, one per ResNet) for up blocks. Returns new
   * tensors: the output and the activations (the output is the last activation when resampling).
   */
  forward(x: tf.Tensor, temb: tf.Tensor, skips?: tf.Tensor[], ctx?: ForwardContext): { y: tf.Tensor4D; activations: tf.Tensor4D[] } {
    const check = validate('ResNetBlock.forward');
    check.tensor('x', x, { rank: 4 });
    if (skips && skips.length < this.resnets.length) check.fail('skips', `at least ${this.resnets.length} skip tensors`, skips.length);
    return tf.tidy(() => {
      const activations: tf.Tensor4D[] = [];
      let h = x as tf.Tensor4D;
      this.resnets.forEach((resnet, i) => {
        if (skips) {
          const skip = skips.shift()!;
          if (skip.shape[0] !== h.shape[0] || skip.shape[1] !== h.shape[1] || skip.shape[2] !== h.shape[2]) {
            check.fail('skips', `tensors of batch and size [${h.shape.slice(0, 3)}]`, skip);
          }
          h = tf.concat([h, skip as tf.Tensor4D], 3);
        }
        h = resnet.forward(h, temb, ctx);
        const L = this.numAttentionLayers;
        for (let j = 0; j < L; j++) h = this.attn[i * L + j].forward(h);
        activations.push(h);
      });
      if (this.resample) {
        h = this.downsample ? strideTwoConv(this.resample, h) : this.resample.forward(nearestUpsample2x(h));
        activations.push(h);
      }
      // The output may also be the last activation (the same tensor): dispose it once.
      return { y: h, activations };
    });
  }
}

/**
 * Nearest-neighbour x2 upsampling by concatenation (same values as F.interpolate(scale_factor=2)).
 * Built from reshape + concat so its gradient is exact on every backend (tfjs' cpu
 * ResizeNearestNeighborGrad is wrong for batch > 1).
 */
export function nearestUpsample2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    // Rank <= 4 throughout: wasm slices (the concat gradient) of rank-6 tensors are very slow.
    const x4 = x.reshape([B * H, W, 1, C]);
    const cols = tf.concat([x4, x4], 2).reshape([B * H, 1, 2 * W * C]);
    return tf.concat([cols, cols], 1).reshape([B, 2 * H, 2 * W, C]) as tf.Tensor4D;
  });
}
