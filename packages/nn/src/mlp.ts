import * as tf from '@tensorflow/tfjs';
import type { NetworkOptions, RawNetwork } from '@fewstep/core';
import { validate } from '@fewstep/core';
import { checkProbability, dropout, ForwardContext } from './context';
import { FourierEmbedding, PositionalEmbedding } from './embedding';
import type { InitSpec } from './init';
import { Linear } from './linear';
import { Module, ModuleDict } from './module';
import { Rng } from './rng';
import { stripUndefined } from './songunet';
import { silu } from './unetblock';

/** Hyper-parameters of the time-conditioned MLP for low-dimensional data. */
export interface MLPConfig {
  /** Data dimension D (2 for toy 2-D data). */
  dim: number;
  /** Width of the hidden layers (default 128). */
  hiddenChannels?: number;
  /** Number of hidden layers (default 3). */
  numLayers?: number;
  /** Channels of the noise embedding (default 32). */
  embeddingChannels?: number;
  /** 'positional' (default) or 'fourier' random features. */
  embeddingType?: 'positional' | 'fourier';
  /** Scale of the Fourier frequencies (default 1; EDM images use 16). */
  fourierScale?: number;
  /** Multiplies the noise label before the embedding (e.g. 1000 for t ∈ [0, 1] with positional features). */
  timeScale?: number;
  /** One-hot class conditioning width (default 0 = unconditional). */
  labelDim?: number;
  /** Dropout before every hidden layer but the first, in training mode (default 0). */
  dropout?: number;
  seed?: number;
}

/**
 * A small noise-conditioned MLP for [B, D] data: e = silu(map_layer0(embed(timeScale · t)) [+
 * map_label(labels)]); h = silu(in_proj(x) + e); h = silu(layers.i(dropout(h)) + e) for each
 * hidden layer; out = out_proj(h). `net.forward` is a fewstep `RawNetwork` (t is [B] or a scalar).
 */
export class MLP extends Module {
  readonly config: Required<MLPConfig>;
  readonly mapNoise: PositionalEmbedding | FourierEmbedding;
  readonly mapLabel?: Linear;
  readonly mapLayer0: Linear;
  readonly inProj: Linear;
  readonly layers: ModuleDict<Linear>;
  readonly outProj: Linear;

  constructor(config: MLPConfig) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    const rng = new Rng(c.seed);
    // PyTorch's default Linear init: U(±1/sqrt(fan_in)) for weight and bias.
    const init: InitSpec = { mode: 'kaiming_uniform', weight: Math.sqrt(1 / 3), bias: Math.sqrt(1 / 3), rng };
    const E = c.embeddingChannels;
    const Hc = c.hiddenChannels;
    this.mapNoise = this.addModule('map_noise', c.embeddingType === 'positional'
      ? new PositionalEmbedding(E, { endpoint: true })
      : new FourierEmbedding(E, { scale: c.fourierScale, seed: rng.int() }));
    if (c.labelDim) this.mapLabel = this.addModule('map_label', new Linear(c.labelDim, E, { init }));
    this.mapLayer0 = this.addModule('map_layer0', new Linear(E, Hc, { init }));
    this.inProj = this.addModule('in_proj', new Linear(c.dim, Hc, { init }));
    this.layers = this.addModule('layers', new ModuleDict<Linear>());
    for (let i = 0; i < c.numLayers - 1; i++) this.layers.add(String(i), new Linear(Hc, Hc, { init }));
    this.outProj = this.addModule('out_proj', new Linear(Hc, c.dim, { init }));
  }

  /** x [B, D], t [B] (or a scalar) -> [B, D]. */
  readonly forward: RawNetwork = (x: tf.Tensor, t: tf.Tensor, opts: NetworkOptions = {}) =>
    tf.tidy(() => {
      const c = this.config;
      const check = validate('MLP.forward');
      check.shape('x', x, [null, c.dim]);
      const B = x.shape[0];
      check.tensor('t', t, { rank: [0, 1] });
      if (t.rank === 1 && t.shape[0] !== B) check.fail('t', `a scalar or a tensor of shape [${B}]`, t);
      const ctx = new ForwardContext(opts.train ?? this.training, opts.dropoutSeed);
      const labels = t.rank === 0 ? tf.broadcastTo(t.toFloat(), [B]) : t.toFloat();
      let e: tf.Tensor = this.mapNoise.forward(labels.mul(c.timeScale));
      if (this.mapLabel) e = e.add(this.mapLabel.forward(this.labelRows(opts.classLabels, B)));
      else if (opts.classLabels !== undefined) check.fail('classLabels', 'undefined for an MLP with labelDim 0', opts.classLabels);
      e = silu(this.mapLayer0.forward(e));
      let h = silu(this.inProj.forward(x.toFloat()).add(e));
      for (const [, layer] of this.layers.items()) h = silu(layer.forward(dropout(h, c.dropout, ctx)).add(e));
      return this.outProj.forward(h);
    });

  private labelRows(labels: tf.Tensor | undefined, batch: number): tf.Tensor {
    const L = this.config.labelDim;
    if (labels === undefined) return tf.zeros([batch, L]);
    const check = validate('MLP.forward');
    if (labels.rank === 1 && labels.dtype === 'int32' && labels.shape[0] === batch) return tf.oneHot(labels as tf.Tensor1D, L).toFloat();
    return check.shape('classLabels', labels, [batch, L]).toFloat();
  }
}

function resolveConfig(cfg: MLPConfig): Required<MLPConfig> {
  const check = validate('MLP');
  if (!cfg || typeof cfg !== 'object') check.fail('config', 'an object', cfg);
  const c = {
    hiddenChannels: 128, numLayers: 3, embeddingChannels: 32, embeddingType: 'positional', fourierScale: 1,
    timeScale: 1, labelDim: 0, dropout: 0, seed: 0, ...stripUndefined(cfg),
  } as Required<MLPConfig>;
  check.integer('dim', c.dim, { min: 1 });
  check.integer('hiddenChannels', c.hiddenChannels, { min: 1 });
  check.integer('numLayers', c.numLayers, { min: 1 });
  check.integer('embeddingChannels', c.embeddingChannels, { min: 4 });
  check.check(c.embeddingChannels % 2 === 0, 'embeddingChannels', 'an even number', c.embeddingChannels);
  check.oneOf('embeddingType', c.embeddingType, ['positional', 'fourier'] as const);
  check.finite('fourierScale', c.fourierScale);
  check.finite('timeScale', c.timeScale);
  check.integer('labelDim', c.labelDim, { min: 0 });
  checkProbability('MLP', 'dropout', c.dropout);
  check.integer('seed', c.seed);
  return c;
}
