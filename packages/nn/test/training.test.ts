import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { FewstepError } from '@fewstep/core';
import { adm, DhariwalUNet, ddpmpp, ncsnpp, SongUNet, UNetBlock } from '@fewstep/nn';

beforeAll(async () => {
  await useTestBackend();
});

const tinyCfg = { imgResolution: 8, inChannels: 2, outChannels: 2, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4] };

/** Every parameter gets a finite gradient that is non-zero somewhere (the graph reaches all of them). */
function expectAllGradients(net: SongUNet | DhariwalUNet, labels?: tf.Tensor): void {
  for (const [, v] of net.namedParameters()) v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 0.2, 'float32', v.size)));
  tf.tidy(() => {
    const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 3);
    const t = tf.tensor1d([0.2, -0.5]);
    const { grads } = tf.variableGrads(
      () => net.forward(x, t, { train: true, dropoutSeed: 4, classLabels: labels }).square().mean() as tf.Scalar,
      net.trainableParameters(),
    );
    const names = new Map(net.namedParameters().map(([n, v]) => [v.name, n]));
    for (const [id, g] of Object.entries(grads)) {
      const vals = g.dataSync();
      expect(vals.every(Number.isFinite), names.get(id)).toBe(true);
      expect(vals.some((v) => v !== 0), names.get(id)).toBe(true);
    }
    expect(Object.keys(grads).length).toBe(net.trainableParameters().length);
  });
}

describe('gradients reach every parameter (FIR resampling, attention, mapping)', () => {
  it('SongUNet NCSN++-style with skip encoder and skip decoder', () => {
    const net = new SongUNet({ ...tinyCfg, embeddingType: 'fourier', channelMultNoise: 2, encoderType: 'skip', decoderType: 'skip', resampleFilter: [1, 3, 3, 1], dropout: 0.1 });
    const names = net.namedEntries().map(([n]) => n);
    expect(names).toContain('enc.4x4_aux_down.resample_filter');
    expect(names).toContain('enc.4x4_aux_skip.weight');
    expect(names).toContain('dec.8x8_aux_up.resample_filter');
    expectAllGradients(net);
    net.dispose();
  });

  it('DhariwalUNet with labels (adaptive scale/shift blocks, up/down)', () => {
    const net = new DhariwalUNet({ ...tinyCfg, labelDim: 3, augmentDim: 0 });
    expectAllGradients(net, tf.tensor1d([0, 2], 'int32'));
    net.dispose();
  });

  it('multi-head attention in an ADM-style block', () => {
    const block = new UNetBlock(8, 16, 4, { attention: true, numHeads: 2, up: true });
    for (const [, v] of block.namedParameters()) v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 0.2, 'float32', v.size)));
    tf.tidy(() => {
      const x = tf.randomNormal([2, 4, 4, 8], 0, 1, 'float32', 1);
      const emb = tf.randomNormal([2, 4], 0, 1, 'float32', 2);
      const { grads } = tf.variableGrads(() => block.forward(x, emb).square().mean() as tf.Scalar, block.trainableParameters());
      expect(Object.keys(grads).length).toBe(block.trainableParameters().length);
      for (const g of Object.values(grads)) expect(g.dataSync().some((v) => v !== 0)).toBe(true);
    });
    block.dispose();
  });
});

describe('presets and configuration errors', () => {
  it('presets build EDM architectures with their defaults', () => {
    const a = ddpmpp({ imgResolution: 8, inChannels: 1, outChannels: 1, modelChannels: 8, numBlocks: 1, attnResolutions: [] });
    expect(a.config.channelMult).toEqual([2, 2, 2]);
    expect(a.config.embeddingType).toBe('positional');
    const b = ncsnpp({ imgResolution: 8, inChannels: 1, outChannels: 1, modelChannels: 8, numBlocks: 1, attnResolutions: [] });
    expect(b.config.encoderType).toBe('residual');
    expect(b.config.resampleFilter).toEqual([1, 3, 3, 1]);
    expect(b.getEntry('map_noise.freqs')?.kind).toBe('buffer');
    const c = adm({ imgResolution: 8, inChannels: 1, outChannels: 1, modelChannels: 8, channelMult: [1, 2], numBlocks: 1 });
    expect(c.config.attnResolutions).toEqual([32, 16, 8]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('names bad configurations', () => {
    expect(() => new SongUNet({ ...tinyCfg, encoderType: 'fancy' as never })).toThrow(/encoderType must be one of "standard", "skip", "residual"/);
    expect(() => new SongUNet({ ...tinyCfg, dropout: -0.1 })).toThrow(FewstepError);
    expect(() => new DhariwalUNet({ ...tinyCfg, channelMult: [] })).toThrow(/channelMult must be an array of at least 1 numbers/);
    expect(() => new DhariwalUNet({ ...tinyCfg, imgResolution: 0 })).toThrow(/imgResolution must be an integer >= 1/);
  });

  it('names bad inputs', () => {
    const net = new SongUNet({ ...tinyCfg, labelDim: 3 });
    const x = tf.zeros([2, 8, 8, 2]);
    const t = tf.zeros([2]);
    const bad = [
      [tf.zeros([2, 8, 8, 3]), t, {}, /x must be an NHWC tensor with 2 channels/],
      [tf.zeros([2, 7, 7, 2]), t, {}, /divisible by 2/],
      [x, tf.zeros([3]), {}, /noiseLabels must be a scalar or a tensor of shape \[2\]/],
      [x, t, { classLabels: tf.zeros([2, 4]) }, /classLabels must be a tensor of shape \[2, 3\]/],
      [x, t, { classLabels: tf.zeros([2]) }, /classLabels must be int32 class indices/],
      [x, t, { augmentLabels: tf.zeros([2, 9]) }, /augmentLabels must be undefined for a network with augmentDim 0/],
    ] as const;
    const before = tf.memory().numTensors;
    for (const [xi, ti, o, msg] of bad) expect(() => net.forward(xi, ti, o)).toThrow(msg);
    expect(tf.memory().numTensors).toBe(before);
    const unc = new DhariwalUNet({ ...tinyCfg });
    expect(() => unc.forward(x, t, { classLabels: tf.zeros([2, 3]) })).toThrow(/classLabels must be undefined for a network with labelDim 0/);
    tf.dispose([x, t, ...bad.flatMap(([xi, ti, o]) => [xi, ti, ...Object.values(o)])]);
    net.dispose();
    unc.dispose();
  });
});
