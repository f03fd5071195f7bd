import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGolden, type Golden } from '@fewstep/testing';
import { DhariwalUNet, readSafetensors, SongUNet, type HostTensor } from '@fewstep/nn';

export const FIXTURES = join(__dirname, 'fixtures');

/** A golden case and its weights (PyTorch state dict as host tensors). */
export function goldenWithWeights(name: string): { golden: Golden; weights: Record<string, HostTensor> } {
  const golden = loadGolden(FIXTURES, name);
  const weights = readSafetensors(readFileSync(join(FIXTURES, golden.weights as string))).tensors;
  return { golden, weights };
}

/** The entries of `weights` under `prefix.`, with the prefix removed. */
export function under(weights: Record<string, HostTensor>, prefix: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(weights)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}

export function input(golden: Golden, name: string): tf.Tensor {
  const g = golden.inputs[name];
  return tf.tensor(g.data, g.shape, 'float32');
}

/** Builds the raw network of a golden case from its PyTorch kwargs. */
export function buildNetwork(golden: Golden): SongUNet | DhariwalUNet {
  const { class: cls, kwargs: k } = golden.params.network;
  const common = {
    imgResolution: k.img_resolution, inChannels: k.in_channels, outChannels: k.out_channels, labelDim: k.label_dim,
    augmentDim: k.augment_dim, modelChannels: k.model_channels, channelMult: k.channel_mult,
    channelMultEmb: k.channel_mult_emb, numBlocks: k.num_blocks, attnResolutions: k.attn_resolutions, dropout: k.dropout,
  };
  if (cls === 'DhariwalUNet') return new DhariwalUNet(common);
  return new SongUNet({
    ...common, embeddingType: k.embedding_type, channelMultNoise: k.channel_mult_noise, encoderType: k.encoder_type,
    decoderType: k.decoder_type, resampleFilter: k.resample_filter,
  });
}

