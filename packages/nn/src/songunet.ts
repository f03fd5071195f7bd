import * as tf from '@tensorflow/tfjs';
import type { NetworkOptions, RawNetwork } from '@fewstep/core';
import { validate } from '@fewstep/core';
import { imageNetInputs } from './conditioning';
import { checkProbability, labelDropout, type ForwardContext } from './context';
import { Conv2d } from './conv2d';
import { FourierEmbedding, PositionalEmbedding } from './embedding';
import { GroupNorm } from './groupnorm';
import type { InitSpec } from './init';
import { Linear } from './linear';
import { Module, ModuleDict } from './module';
import { Rng } from './rng';
import { silu, UNetBlock, type UNetBlockOptions } from './unetblock';

/** SongUNet hyper-parameters (EDM's names in camelCase, EDM's defaults). */
export interface SongUNetConfig {
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
  embeddingType?: 'positional' | 'fourier';
  channelMultNoise?: number;
  encoderType?: 'standard' | 'skip' | 'residual';
  decoderType?: 'standard' | 'skip';
  resampleFilter?: number[];
  /** Scale of the random Fourier frequencies when built from scratch (EDM 16, ECT 0.02). */
  fourierScale?: number;
  /** Seed of the initial weights. */
  seed?: number;
}

type EncModule = UNetBlock | Conv2d;
type DecModule = UNetBlock | Conv2d | GroupNorm;

/**
 * EDM's SongUNet: DDPM++ (positional embedding, standard encoder/decoder, [1,1]) and NCSN++
 * (Fourier embedding, residual encoder, [1,3,3,1]) in NHWC with PyTorch state_dict names.
 * `net.forward` is a fewstep `RawNetwork`: (x, noiseLabels, {classLabels, augmentLabels, train,
 * dropoutSeed}) -> F; wrap it with `precondition(net.forward, edmPreconditioning())` for D.
 */
export class SongUNet extends Module {
  readonly config: Required<SongUNetConfig>;
  readonly mapNoise: PositionalEmbedding | FourierEmbedding;
  readonly mapLabel?: Linear;
  readonly mapAugment?: Linear;
  readonly mapLayer0: Linear;
  readonly mapLayer1: Linear;
  readonly enc: ModuleDict<EncModule>;
  readonly dec: ModuleDict<DecModule>;

  constructor(config: SongUNetConfig) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    const rng = new Rng(c.seed);
    const emb = c.modelChannels * c.channelMultEmb;
    const noise = c.modelChannels * c.channelMultNoise;
    const init: InitSpec = { mode: 'xavier_uniform', rng };
    const initZero: InitSpec = { mode: 'xavier_uniform', weight: 1e-5, rng };
    const initAttn: InitSpec = { mode: 'xavier_uniform', weight: Math.sqrt(0.2), rng };
    const blockOpts: UNetBlockOptions = {
      numHeads: 1, dropout: c.dropout, skipScale: Math.sqrt(0.5), eps: 1e-6, resampleFilter: c.resampleFilter,
      resampleProj: true, adaptiveScale: false, init, initZero, initAttn, rng,
    };
    const block = (cin: number, cout: number, o: UNetBlockOptions = {}) => new UNetBlock(cin, cout, emb, { ...blockOpts, ...o });

    // Mapping.
    this.mapNoise = this.addModule('map_noise', c.embeddingType === 'positional'
      ? new PositionalEmbedding(noise, { endpoint: true })
      : new FourierEmbedding(noise, { scale: c.fourierScale, seed: rng.int() }));
    if (c.labelDim) this.mapLabel = this.addModule('map_label', new Linear(c.labelDim, noise, { init }));
    if (c.augmentDim) this.mapAugment = this.addModule('map_augment', new Linear(c.augmentDim, noise, { bias: false, init }));
    this.mapLayer0 = this.addModule('map_layer0', new Linear(noise, emb, { init }));
    this.mapLayer1 = this.addModule('map_layer1', new Linear(emb, emb, { init }));

    // Encoder.
    this.enc = this.addModule('enc', new ModuleDict<EncModule>());
    let cout = c.inChannels;
    let caux = c.inChannels;
    c.channelMult.forEach((mult, level) => {
      const res = c.imgResolution >> level;
      const at = `${res}x${res}`;
      if (level === 0) {
        this.enc.add(`${at}_conv`, new Conv2d(cout, c.modelChannels, 3, { init }));
        cout = c.modelChannels;
      } else {
        this.enc.add(`${at}_down`, block(cout, cout, { down: true }));
        if (c.encoderType === 'skip') {
          this.enc.add(`${at}_aux_down`, new Conv2d(caux, caux, 0, { down: true, resampleFilter: c.resampleFilter }));
          this.enc.add(`${at}_aux_skip`, new Conv2d(caux, cout, 1, { init }));
        }
        if (c.encoderType === 'residual') {
          this.enc.add(`${at}_aux_residual`, new Conv2d(caux, cout, 3, { down: true, resampleFilter: c.resampleFilter, fusedResample: true, init }));
          caux = cout;
        }
      }
      for (let i = 0; i < c.numBlocks; i++) {
        const cin = cout;
        cout = c.modelChannels * mult;
        this.enc.add(`${at}_block${i}`, block(cin, cout, { attention: c.attnResolutions.includes(res) }));
      }
    });
    const skips = this.enc.items().filter(([n]) => !n.includes('aux')).map(([, m]) => m.outChannels);

    // Decoder.
    this.dec = this.addModule('dec', new ModuleDict<DecModule>());
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
        this.dec.add(`${at}_block${i}`, block(cin, cout, { attention: i === c.numBlocks && c.attnResolutions.includes(res) }));
      }
      if (c.decoderType === 'skip' || level === 0) {
        if (c.decoderType === 'skip' && level < last) {
          this.dec.add(`${at}_aux_up`, new Conv2d(c.outChannels, c.outChannels, 0, { up: true, resampleFilter: c.resampleFilter }));
        }
        this.dec.add(`${at}_aux_norm`, new GroupNorm(cout, { eps: 1e-6 }));
        this.dec.add(`${at}_aux_conv`, new Conv2d(cout, c.outChannels, 3, { init: initZero }));
      }
    }
  }

  /** The raw network F(x, noiseLabels, opts): x [B, H, W, in] -> [B, H, W, out]. */
  readonly forward: RawNetwork = (x: tf.Tensor, noiseLabels: tf.Tensor, opts?: NetworkOptions) =>
    tf.tidy(() => {
      const c = this.config;
      const inp = imageNetInputs('SongUNet.forward', { ...c, levels: c.channelMult.length, training: this.training }, x, noiseLabels, opts);
      const emb = this.embed(inp.noiseLabels, inp.ctx, inp.classLabels, inp.augmentLabels);
      return this.decode(this.encode(inp.x, emb, inp.ctx), emb, inp.ctx);
    });

  /** The mapping network: noise labels [B] (and labels) -> the embedding [B, E] given to every block. */
  embed(noiseLabels: tf.Tensor1D, ctx: ForwardContext, classLabels?: tf.Tensor2D, augmentLabels?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const e0 = this.mapNoise.forward(noiseLabels);
      const half = e0.shape[1] / 2;
      // SongUNet swaps the halves: [cos | sin] -> [sin | cos].
      let e: tf.Tensor = tf.concat([e0.slice([0, half], [-1, half]), e0.slice([0, 0], [-1, half])], 1);
      if (this.mapLabel && classLabels) {
        const labels = labelDropout(classLabels, this.config.labelDropout, ctx);
        e = e.add(this.mapLabel.forward(labels.mul(Math.sqrt(this.config.labelDim))));
      }
      if (this.mapAugment && augmentLabels) e = e.add(this.mapAugment.forward(augmentLabels));
      e = silu(this.mapLayer0.forward(e));
      return silu(this.mapLayer1.forward(e)) as tf.Tensor2D;
    });
  }

  private encode(x: tf.Tensor4D, emb: tf.Tensor2D, ctx: ForwardContext): { x: tf.Tensor4D; skips: tf.Tensor4D[] } {
    const skips: tf.Tensor4D[] = [];
    let aux = x;
    for (const [name, m] of this.enc.items()) {
      if (name.includes('aux_down')) aux = (m as Conv2d).forward(aux);
      else if (name.includes('aux_skip')) x = skips[skips.length - 1] = x.add((m as Conv2d).forward(aux));
      else if (name.includes('aux_residual')) x = skips[skips.length - 1] = aux = x.add((m as Conv2d).forward(aux)).div(Math.SQRT2);
      else {
        x = m instanceof UNetBlock ? m.forward(x, emb, ctx) : (m as Conv2d).forward(x);
        skips.push(x);
      }
    }
    return { x, skips };
  }

  private decode(state: { x: tf.Tensor4D; skips: tf.Tensor4D[] }, emb: tf.Tensor2D, ctx: ForwardContext): tf.Tensor4D {
    let { x } = state;
    const skips = [...state.skips];
    let aux: tf.Tensor4D | undefined;
    let tmp: tf.Tensor4D | undefined;
    for (const [name, m] of this.dec.items()) {
      if (name.includes('aux_up')) aux = (m as Conv2d).forward(aux as tf.Tensor4D);
      // aux_conv takes silu(aux_norm(x)): one fused kernel where the backend has it.
      else if (name.includes('aux_norm')) tmp = (m as GroupNorm).forward(x, { silu: true }) as tf.Tensor4D;
      else if (name.includes('aux_conv')) {
        tmp = (m as Conv2d).forward(tmp as tf.Tensor4D);
        aux = aux ? (tmp.add(aux) as tf.Tensor4D) : tmp;
      } else {
        const b = m as UNetBlock;
        if (x.shape[3] !== b.inChannels) x = tf.concat([x, skips.pop() as tf.Tensor4D], 3);
        x = b.forward(x, emb, ctx);
      }
    }
    return aux as tf.Tensor4D;
  }
}

function resolveConfig(cfg: SongUNetConfig): Required<SongUNetConfig> {
  const check = validate('SongUNet');
  if (!cfg || typeof cfg !== 'object') check.fail('config', 'an object', cfg);
  const c: Required<SongUNetConfig> = {
    labelDim: 0, augmentDim: 0, modelChannels: 128, channelMult: [1, 2, 2, 2], channelMultEmb: 4, numBlocks: 4,
    attnResolutions: [16], dropout: 0.1, labelDropout: 0, embeddingType: 'positional', channelMultNoise: 1,
    encoderType: 'standard', decoderType: 'standard', resampleFilter: [1, 1], fourierScale: 16, seed: 0,
    ...stripUndefined(cfg),
  } as Required<SongUNetConfig>;
  check.integer('imgResolution', c.imgResolution, { min: 1 });
  check.integer('inChannels', c.inChannels, { min: 1 });
  check.integer('outChannels', c.outChannels, { min: 1 });
  check.integer('labelDim', c.labelDim, { min: 0 });
  check.integer('augmentDim', c.augmentDim, { min: 0 });
  check.integer('modelChannels', c.modelChannels, { min: 1 });
  check.numbers('channelMult', c.channelMult, { minLength: 1, gt: 0 }).forEach((m, i) => check.integer(`channelMult[${i}]`, m, { min: 1 }));
  check.integer('channelMultEmb', c.channelMultEmb, { min: 1 });
  check.integer('numBlocks', c.numBlocks, { min: 0 });
  check.numbers('attnResolutions', c.attnResolutions);
  checkProbability('SongUNet', 'dropout', c.dropout);
  checkProbability('SongUNet', 'labelDropout', c.labelDropout);
  check.oneOf('embeddingType', c.embeddingType, ['positional', 'fourier'] as const);
  check.integer('channelMultNoise', c.channelMultNoise, { min: 1 });
  check.oneOf('encoderType', c.encoderType, ['standard', 'skip', 'residual'] as const);
  check.oneOf('decoderType', c.decoderType, ['standard', 'skip'] as const);
  check.integer('seed', c.seed);
  return c;
}

/** Copies an options object without its undefined entries (so defaults apply). */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** EDM's DDPM++ preset (CIFAR-10: modelChannels 128, channelMult [2, 2, 2]); any field can be overridden. */
export function ddpmpp(cfg: SongUNetConfig): SongUNet {
  return new SongUNet({
    modelChannels: 128, channelMult: [2, 2, 2], embeddingType: 'positional', channelMultNoise: 1,
    encoderType: 'standard', decoderType: 'standard', resampleFilter: [1, 1], ...stripUndefined(cfg),
  });
}

/** EDM's NCSN++ preset (Fourier embedding, residual encoder, FIR [1, 3, 3, 1]); any field can be overridden. */
export function ncsnpp(cfg: SongUNetConfig): SongUNet {
  return new SongUNet({
    modelChannels: 128, channelMult: [2, 2, 2], embeddingType: 'fourier', channelMultNoise: 2,
    encoderType: 'residual', decoderType: 'standard', resampleFilter: [1, 3, 3, 1], ...stripUndefined(cfg),
  });
}
