import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import { loadStateDict } from '@fewstep/nn';
import { expectGolden, expectNoLeak, useTestBackend } from '@fewstep/testing';
import { ResNet, ResNetBlock, SelfAttention, TimeEmbedding, nearestUpsample2x } from '@fewstep/mdm';
import { golden, goldenParams, input } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

describe('MDM blocks match the reference (mdm_block_*)', () => {
  it('time embedding', () => {
    const g = golden('mdm_block_time_embedding');
    const m = new TimeEmbedding(g.params.temporal_dim);
    loadStateDict(m, goldenParams(g));
    const times = input(g, 'times');
    const y = m.forward(times);
    expectGolden(g, 'temb', y);
    tf.dispose([times, y]);
    m.dispose();
  });

  for (const name of ['mdm_block_resnet_identity', 'mdm_block_resnet_proj']) {
    it(name, async () => {
      const g = golden(name);
      const p = g.params;
      const m = new ResNet({ inChannels: p.num_channels, outChannels: p.output_channels, temporalDim: p.time_emb_channels, numGroupsNorm: p.num_groups_norm });
      loadStateDict(m, goldenParams(g));
      const x = input(g, 'x');
      const temb = input(g, 'temb');
      await expectNoLeak(() => m.forward(x, temb));
      const y = m.forward(x, temb);
      expectGolden(g, 'y', y);
      tf.dispose([x, temb, y]);
      m.dispose();
    });
  }

  for (const name of ['mdm_block_attention_plain', 'mdm_block_attention_ffn']) {
    it(name, async () => {
      const g = golden(name);
      const p = g.params;
      const m = new SelfAttention({ channels: p.channels, numHeads: p.num_heads, useAttentionFfn: p.use_attention_ffn });
      loadStateDict(m, goldenParams(g));
      const x = input(g, 'x');
      await expectNoLeak(() => m.forward(x));
      const y = m.forward(x);
      expectGolden(g, 'y', y);
      tf.dispose([x, y]);
      m.dispose();
    });
  }

  it('down ResNetBlock with activations', async () => {
    const g = golden('mdm_block_resnetblock_down');
    const [c0, c1, c2] = g.params.channels;
    const m = new ResNetBlock({ temporalDim: g.params.temporal_dim, inChannels: [c0, c1], outChannels: c2, numGroupsNorm: g.params.num_groups_norm, downsample: true });
    loadStateDict(m, goldenParams(g));
    const x = input(g, 'x');
    const temb = input(g, 'temb');
    await expectNoLeak(() => m.forward(x, temb));
    const { y, activations } = m.forward(x, temb);
    expectGolden(g, 'y', y);
    activations.forEach((a, i) => expectGolden(g, `activation${i}`, a));
    expect(activations).toHaveLength(3);
    tf.dispose([x, temb, y, ...activations]);
    m.dispose();
  });

  it('up ResNetBlock with skips', async () => {
    const g = golden('mdm_block_resnetblock_up');
    const x = input(g, 'x');
    const temb = input(g, 'temb');
    const skips = [input(g, 'skip0'), input(g, 'skip1')];
    const out = g.inputs['param.resnets.0.conv1.weight'].shape[0];
    const inCh = [(x.shape[3] as number) + (skips[0].shape[3] as number), out + (skips[1].shape[3] as number)];
    const m = new ResNetBlock({ temporalDim: g.params.temporal_dim, inChannels: inCh, outChannels: out, numGroupsNorm: g.params.num_groups_norm, upsample: true });
    loadStateDict(m, goldenParams(g));
    await expectNoLeak(() => m.forward(x, temb, [...skips]));
    const { y, activations } = m.forward(x, temb, [...skips]);
    expectGolden(g, 'y', y);
    tf.dispose([x, temb, y, ...skips, ...activations]);
    m.dispose();
  });

  it('nearest x2 upsampling equals tf.image.resizeNearestNeighbor and has an exact gradient', () => {
    const x = tf.randomNormal([2, 3, 3, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
    const a = nearestUpsample2x(x);
    const b = tf.image.resizeNearestNeighbor(x, [6, 6]);
    expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBe(0);
    const g = tf.grad((v: tf.Tensor) => nearestUpsample2x(v as tf.Tensor4D).mul(tf.range(0, 144).reshape([2, 6, 6, 2])).sum())(x);
    // Each input pixel receives the sum of its 4 copies' weights.
    const idx = (b0: number, h: number, w: number, c: number) => ((b0 * 6 + h) * 6 + w) * 2 + c;
    const expected = idx(1, 2, 4, 1) + idx(1, 2, 5, 1) + idx(1, 3, 4, 1) + idx(1, 3, 5, 1);
    expect(g.arraySync()).toBeDefined();
    expect((g as tf.Tensor4D).arraySync()[1][1][2][1]).toBe(expected);
    tf.dispose([x, a, b, g]);
  });

  it('rejects bad configuration and input', () => {
    expect(() => new ResNet({ inChannels: 6, outChannels: 8, temporalDim: 16, numGroupsNorm: 4 })).toThrow(FewstepError);
    expect(() => new SelfAttention({ channels: 32, numHeads: 5 })).toThrow(FewstepError);
    expect(() => new TimeEmbedding(20)).toThrow(FewstepError);
    const m = new ResNet({ inChannels: 8, outChannels: 8, temporalDim: 16, numGroupsNorm: 4 });
    const x = tf.zeros([2, 4, 4, 4]);
    const t = tf.zeros([2, 16]);
    expect(() => m.forward(x, t)).toThrow(/channels/);
    tf.dispose([x, t]);
    m.dispose();
  });
});
