import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { FewstepError } from '@fewstep/core';
import { Conv2d, dropout, ForwardContext, GroupNorm, Linear, Module, SongUNet, UNetBlock } from '@fewstep/nn';

beforeAll(async () => {
  await useTestBackend();
});

class Tiny extends Module {
  readonly a: Linear;
  readonly n: GroupNorm;
  readonly c: Conv2d;
  constructor() {
    super();
    this.a = this.addModule('a', new Linear(3, 4));
    this.n = this.addModule('n', new GroupNorm(4));
    this.c = this.addModule('c', new Conv2d(4, 4, 3, { down: true }));
  }
  addAgain(): void {
    this.addModule('a', new Linear(1, 1));
  }
  addDotted(): void {
    this.addModule('a.b', new Linear(1, 1));
  }
}

const tinySong = () =>
  new SongUNet({ imgResolution: 8, inChannels: 2, outChannels: 2, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4], dropout: 0.3 });

describe('Module', () => {
  it('registers parameters and buffers under PyTorch dotted names in state_dict order', () => {
    const m = new Tiny();
    expect(m.namedEntries().map(([n]) => n)).toEqual([
      'a.weight', 'a.bias', 'n.weight', 'n.bias', 'c.weight', 'c.bias', 'c.resample_filter',
    ]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['c.resample_filter']);
    expect(m.numParameters()).toBe(3 * 4 + 4 + 4 + 4 + 9 * 16 + 4);
    expect(m.getEntry('c.weight')?.layout).toBe('conv');
    expect(m.getEntry('a.weight')?.layout).toBe('linear');
    expect(m.getEntry('nope.weight')).toBeUndefined();
    m.dispose();
  });

  it('rejects duplicate and dotted names', () => {
    const m = new Tiny();
    expect(() => m.addAgain()).toThrow(/name must be a name not registered yet/);
    expect(() => m.addDotted()).toThrow(/name must be a non-empty name without dots/);
    m.dispose();
  });

  it('SongUNet names include the ModuleDict keys', () => {
    const net = tinySong();
    const names = net.namedEntries().map(([n]) => n);
    expect(names).toContain('enc.8x8_conv.weight');
    expect(names).toContain('enc.4x4_down.conv0.resample_filter');
    expect(names).toContain('dec.4x4_in0.qkv.weight');
    expect(names).toContain('dec.8x8_aux_conv.bias');
    expect(names[0]).toBe('map_layer0.weight');
    net.dispose();
  });

  it('train()/eval() set the mode recursively', () => {
    const net = tinySong();
    expect(net.training).toBe(false);
    net.train();
    expect((net.enc.items()[1][1] as UNetBlock).training).toBe(true);
    net.eval();
    expect((net.enc.items()[1][1] as UNetBlock).training).toBe(false);
    net.dispose();
  });

  it('freeze/unfreeze select parameters by prefix', () => {
    const net = tinySong();
    const total = net.parameters().length;
    net.freeze(['map_']);
    const frozen = net.namedParameters().filter(([, v]) => !v.trainable).map(([n]) => n);
    expect(frozen.length).toBeGreaterThan(0);
    expect(frozen.every((n) => n.startsWith('map_'))).toBe(true);
    expect(net.trainableParameters().length).toBe(total - frozen.length);
    net.unfreeze();
    expect(net.trainableParameters().length).toBe(total);
    net.freeze();
    expect(net.trainableParameters().length).toBe(0);
    net.dispose();
  });

  it('copyFrom copies every tensor; emaUpdateFrom mixes them', async () => {
    const a = new Tiny();
    const b = new Tiny();
    b.a.weight.assign(tf.onesLike(b.a.weight));
    a.a.weight.assign(tf.zerosLike(a.a.weight));
    await expectNoLeak(() => a.emaUpdateFrom(b, 0.75), () => undefined);
    expect(Array.from(a.a.weight.dataSync())).toEqual(new Array(12).fill(0.25));
    await expectNoLeak(() => a.copyFrom(b), () => undefined);
    expect(Array.from(a.a.weight.dataSync())).toEqual(new Array(12).fill(1));
    expect(() => a.emaUpdateFrom(b, 1.5)).toThrow(/decay must be a number >= 0 and <= 1/);
    const other = new Linear(3, 4);
    expect(() => a.copyFrom(other)).toThrow(FewstepError);
    expect(() => a.copyFrom(other)).toThrow(/missing a.weight.*unexpected weight/);
    for (const m of [a, b, other]) m.dispose();
  });
});

describe('seeded dropout', () => {
  it('same seed and shape give the same mask; different seeds differ', () => {
    tf.tidy(() => {
      const x = tf.ones([4, 6, 6, 3]);
      const m1 = dropout(x, 0.5, new ForwardContext(true, 7));
      const m2 = dropout(x, 0.5, new ForwardContext(true, 7));
      const m3 = dropout(x, 0.5, new ForwardContext(true, 8));
      expect(Array.from(m1.dataSync())).toEqual(Array.from(m2.dataSync()));
      expect(Array.from(m1.dataSync())).not.toEqual(Array.from(m3.dataSync()));
      // Survivors are scaled by 1/(1-p); about half are dropped.
      const vals = Array.from(m1.dataSync());
      expect(vals.every((v) => v === 0 || Math.abs(v - 2) < 1e-6)).toBe(true);
      const dropped = vals.filter((v) => v === 0).length / vals.length;
      expect(dropped).toBeGreaterThan(0.35);
      expect(dropped).toBeLessThan(0.65);
      // Eval mode is the identity.
      expect(dropout(x, 0.5, new ForwardContext(false, 7))).toBe(x);
    });
  });

  it('successive masks in one pass differ (each layer gets its own seed)', () => {
    tf.tidy(() => {
      const x = tf.ones([64]);
      const ctx = new ForwardContext(true, 3);
      const a = dropout(x, 0.5, ctx).dataSync();
      const b = dropout(x, 0.5, ctx).dataSync();
      expect(Array.from(a)).not.toEqual(Array.from(b));
    });
  });

  it('a network in training mode repeats its output for a repeated dropoutSeed', async () => {
    const net = tinySong();
    // Give the zero-initialised conv1 layers signal so dropout changes the output.
    for (const [, v] of net.namedParameters()) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 5));
    const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 1);
    const t = tf.tensor1d([0.1, -0.3]);
    await expectNoLeak(() =>
      tf.tidy(() => {
        const a = net.forward(x, t, { train: true, dropoutSeed: 11 });
        const b = net.forward(x, t, { train: true, dropoutSeed: 11 });
        const c = net.forward(x, t, { train: true, dropoutSeed: 12 });
        const e1 = net.forward(x, t);
        const e2 = net.forward(x, t, { dropoutSeed: 99 });
        expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBe(0);
        expect(tf.max(tf.abs(a.sub(c))).dataSync()[0]).toBeGreaterThan(1e-4);
        expect(tf.max(tf.abs(e1.sub(e2))).dataSync()[0]).toBe(0);
        return undefined;
      }),
    );
    tf.dispose([x, t]);
    net.dispose();
  });

  it('label dropout zeroes label rows in training mode only, reproducibly per seed', () => {
    const cfg = { imgResolution: 8, inChannels: 2, outChannels: 2, modelChannels: 8, channelMult: [1], numBlocks: 1, attnResolutions: [], labelDim: 3, dropout: 0 };
    const always = new SongUNet({ ...cfg, labelDropout: 0.999999 });
    const half = new SongUNet({ ...cfg, labelDropout: 0.5 });
    half.copyFrom(always);
    tf.tidy(() => {
      const x = tf.randomNormal([8, 8, 8, 2], 0, 1, 'float32', 1);
      const t = tf.zeros([8]);
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
      const unlabeled = always.forward(x, t);
      const dropped = always.forward(x, t, { classLabels: labels, train: true, dropoutSeed: 3 });
      const kept = always.forward(x, t, { classLabels: labels });
      expect(tf.max(tf.abs(dropped.sub(unlabeled))).dataSync()[0]).toBe(0);
      expect(tf.max(tf.abs(kept.sub(unlabeled))).dataSync()[0]).toBeGreaterThan(0);
      const h1 = half.forward(x, t, { classLabels: labels, train: true, dropoutSeed: 9 });
      const h2 = half.forward(x, t, { classLabels: labels, train: true, dropoutSeed: 9 });
      expect(tf.max(tf.abs(h1.sub(h2))).dataSync()[0]).toBe(0);
      // Per sample, the output is either the labelled or the unlabelled one.
      const perSample = (a: tf.Tensor, b: tf.Tensor) => Array.from(a.sub(b).abs().max([1, 2, 3]).dataSync());
      const dKept = perSample(h1, kept);
      const dDrop = perSample(h1, unlabeled);
      dKept.forEach((d, i) => expect(Math.min(d, dDrop[i])).toBe(0));
      expect(dKept.filter((d) => d === 0).length).toBeGreaterThan(0);
      expect(dDrop.filter((d) => d === 0).length).toBeGreaterThan(0);
    });
    always.dispose();
    half.dispose();
  });

  it('rejects a non-integer dropoutSeed', () => {
    expect(() => new ForwardContext(true, 0.5)).toThrow(/dropoutSeed must be an integer/);
  });
});
