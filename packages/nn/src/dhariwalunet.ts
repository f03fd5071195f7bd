import * as tf from '@tensorflow/tfjs';
import type { NetworkOptions, RawNetwork } from '@fewstep/core';
import { validate } from '@fewstep/core';
import { imageNetInputs } from './conditioning';
import { checkProbability, labelDropout, type ForwardContext } from './context';
import { Conv2d } from './conv2d';
import { PositionalEmbedding } from './embedding';
import { GroupNorm } from './groupnorm';
import type { InitSpec } from './init';
import { Linear } from './linear';
import { Module, ModuleDict } from './module';
import { Rng } from './rng';
import { stripUndefined } from './songunet';
import { silu, UNetBlock, type UNetBlockOptions } from './unetblock';

/** DhariwalUNet (ADM) hyper-parameters (EDM's names in camelCase, EDM's defaults). */
export interface DhariwalUNetConfig {
  imgResolution: number;
  inChannels: number;
  outChannels: number;
  labelDim?: number;
  augmentDim?: number;
  modelChannels?: number;
  channelMult?: number[];
  channelMultEmb?: number;
  numBlocks?: number;
  attnResolutions?: number[];
  dropout?: number;
  labelDropout?: number;
  /** Seed of the initial weights. */
  seed?: number;
}

/**
 * EDM's DhariwalUNet (ADM) in NHWC with PyTorch state_dict names: positional embedding without
 * the half swap, adaptive scale/shift blocks, attention with 64 channels per head in every block
 * at an attention resolution. `net.forward` is a fewstep `RawNetwork`.
 */
export class DhariwalUNet extends Module {
  readonly config: Required<DhariwalUNetConfig>;
  readonly mapNoise: PositionalEmbedding;
  readonly mapAugment?: Linear;
  readonly mapLayer0: Linear;
  readonly mapLayer1: Linear;
  readonly mapLabel?: Linear;
  readonly enc: ModuleDict<UNetBlock | Conv2d>;
  readonly dec: ModuleDict<UNetBlock>;
  readonly outNorm: GroupNorm;
  readonly outConv: Conv2d;

  constructor(config: DhariwalUNetConfig) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    const rng = new Rng(c.seed);
    const emb = c.modelChannels * c.channelMultEmb;
    // ADM's init = U(±1/sqrt(fan_in)) for weight and bias (PyTorch's default); zero-init layers are exact zeros.
    const init: InitSpec = { mode: 'kaiming_uniform', weight: Math.sqrt(1 / 3), bias: Math.sqrt(1 / 3), rng };
    const initZero: InitSpec = { mode: 'kaiming_uniform', weight: 0, bias: 0, rng };
    const blockOpts: UNetBlockOptions = { channelsPerHead: 64, dropout: c.dropout, init, initZero, rng };
    const block = (cin: number, cout: number, o: UNetBlockOptions = {}) => new UNetBlock(cin, cout, emb, { ...blockOpts, ...o });

    this.mapNoise = this.addModule('map_noise', new PositionalEmbedding(c.modelChannels));
    if (c.augmentDim) this.mapAugment = this.addModule('map_augment', new Linear(c.augmentDim, c.modelChannels, { bias: false, init: initZero }));
    this.mapLayer0 = this.addModule('map_layer0', new Linear(c.modelChannels, emb, { init }));
    this.mapLayer1 = this.addModule('map_layer1', new Linear(emb, emb, { init }));
    if (c.labelDim) {
      const labelInit: InitSpec = { mode: 'kaiming_normal', weight: Math.sqrt(c.labelDim), rng };
      this.mapLabel = this.addModule('map_label', new Linear(c.labelDim, emb, { bias: false, init: labelInit }));
    }

    this.enc = this.addModule('enc', new ModuleDict<UNetBlock | Conv2d>());
    let cout = c.inChannels;
    c.channelMult.forEach((mult, level) => {
      const res = c.imgResolution >> level;
      const at = `${res}x${res}`;
      if (level === 0) {
        this.enc.add(`${at}_conv`, new Conv2d(cout, c.modelChannels * mult, 3, { init }));
        cout = c.modelChannels * mult;
      } else {
        this.enc.add(`${at}_down`, block(cout, cout, { down: true }));
      }
      for (let i = 0; i < c.numBlocks; i++) {
        const cin = cout;
        cout = c.modelChannels * mult;
        this.enc.add(`${at}_block${i}`, block(cin, cout, { attention: c.attnResolutions.includes(res) }));
      }
    });
    const skips = this.enc.items().map(([, m]) => m.outChannels);

    this.dec = this.addModule('dec', new ModuleDict<UNetBlock>());
    const last = c.channelMult.length - 1;
    for (let level = last; level >= 0; level--) {
      const res = c.imgResolution >> level;
      const at = `${res}x${res}`;
      if (level === last) {
        this.dec.add(`${at}_in0`, block(cout, cout, { attention: true }));
        this.dec.add(`${at}_in1`, block(cout, cout));
      } else {
        this.dec.add(`${at}_up`, block(cout, cout, { up: true }));
      }
      for (let i = 0; i <= c.numBlocks; i++) {
        const cin = cout + (skips.pop() as number);
        cout = c.modelChannels * c.channelMult[level];
        this.dec.add(`${at}_block${i}`, block(cin, cout, { attention: c.attnResolutions.includes(res) }));
      }
    }
    this.outNorm = this.addModule('out_norm', new GroupNorm(cout));
    this.outConv = this.addModule('out_conv', new Conv2d(cout, c.outChannels, 3, { init: initZero }));
  }

  /** The raw network F(x, noiseLabels, opts): x [B, H, W, in] -> [B, H, W, out]. */
  readonly forward: RawNetwork = (x: tf.Tensor, noiseLabels: tf.Tensor, opts?: NetworkOptions) =>
    tf.tidy(() => {
      const c = this.config;
      const inp = imageNetInputs('DhariwalUNet.forward', { ...c, levels: c.channelMult.length, training: this.training }, x, noiseLabels, opts);
      const emb = this.embed(inp.noiseLabels, inp.ctx, inp.classLabels, inp.augmentLabels);
      const skips: tf.Tensor4D[] = [];
      let h = inp.x;
      for (const [, m] of this.enc.items()) {
        h = m instanceof UNetBlock ? m.forward(h, emb, inp.ctx) : m.forward(h);
        skips.push(h);
      }
      for (const [, b] of this.dec.items()) {
        if (h.shape[3] !== b.inChannels) h = tf.concat([h, skips.pop() as tf.Tensor4D], 3);
        h = b.forward(h, emb, inp.ctx);
      }
      return this.outConv.forward(this.outNorm.forward(h, { silu: true }));
    });

  /** The mapping network: [cos | sin] embedding -> MLP -> + labels -> SiLU, [B, E]. */
  embed(noiseLabels: tf.Tensor1D, ctx: ForwardContext, classLabels?: tf.Tensor2D, augmentLabels?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let e: tf.Tensor = this.mapNoise.forward(noiseLabels);
      if (this.mapAugment && augmentLabels) e = e.add(this.mapAugment.forward(augmentLabels));
      e = this.mapLayer1.forward(silu(this.mapLayer0.forward(e)));
      if (this.mapLabel && classLabels) e = e.add(this.mapLabel.forward(labelDropout(classLabels, this.config.labelDropout, ctx)));
      return silu(e) as tf.Tensor2D;
    });
  }
}

function resolveConfig(cfg: DhariwalUNetConfig): Required<DhariwalUNetConfig> {
  const check = validate('DhariwalUNet');
  if (!cfg || typeof cfg !== 'object') check.fail('config', 'an object', cfg);
  const c = {
    labelDim: 0, augmentDim: 0, modelChannels: 192, channelMult: [1, 2, 3, 4], channelMultEmb: 4, numBlocks: 3,
    attnResolutions: [32, 16, 8], dropout: 0.1, labelDropout: 0, seed: 0, ...stripUndefined(cfg),
  } as Required<DhariwalUNetConfig>;
  check.integer('imgResolution', c.imgResolution, { min: 1 });
  check.integer('inChannels', c.inChannels, { min: 1 });
  check.integer('outChannels', c.outChannels, { min: 1 });
  check.integer('labelDim', c.labelDim, { min: 0 });
  check.integer('augmentDim', c.augmentDim, { min: 0 });
  check.integer('modelChannels', c.modelChannels, { min: 1 });
  check.numbers('channelMult', c.channelMult, { minLength: 1 }).forEach((m, i) => check.integer(`channelMult[${i}]`, m, { min: 1 }));
  check.integer('channelMultEmb', c.channelMultEmb, { min: 1 });
  check.integer('numBlocks', c.numBlocks, { min: 0 });
  check.numbers('attnResolutions', c.attnResolutions);
  checkProbability('DhariwalUNet', 'dropout', c.dropout);
  checkProbability('DhariwalUNet', 'labelDropout', c.labelDropout);
  check.integer('seed', c.seed);
  return c;
}

/** EDM's ADM preset (ImageNet-64: modelChannels 192, channelMult [1, 2, 3, 4]); any field can be overridden. */
export function adm(cfg: DhariwalUNetConfig): DhariwalUNet {
  return new DhariwalUNet({ modelChannels: 192, channelMult: [1, 2, 3, 4], ...stripUndefined(cfg) });
}
