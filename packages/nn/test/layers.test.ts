import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, expectNoLeak, useTestBackend } from '@fewstep/testing';
import {
  FourierEmbedding,
  GroupNorm,
  Linear,
  loadStateDict,
  PositionalEmbedding,
  UNetBlock,
  type Module,
} from '@fewstep/nn';
import { FewstepError } from '@fewstep/core';
import { goldenWithWeights, input, under } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

type Built = { module: Module; run: (inputs: tf.Tensor[]) => tf.Tensor };

function build(cls: string, kw: Record<string, any>): Built {
  switch (cls) {
    case 'GroupNorm': {
      const m = new GroupNorm(kw.num_channels, { eps: kw.eps, numGroups: kw.num_groups });
      return { module: m, run: ([x]) => m.forward(x) };
    }
    case 'Linear': {
      const m = new Linear(kw.in_features, kw.out_features, { bias: kw.bias });
      return { module: m, run: ([x]) => m.forward(x) };
    }
    case 'PositionalEmbedding': {
      const m = new PositionalEmbedding(kw.num_channels, { endpoint: kw.endpoint, maxPositions: kw.max_positions });
      return { module: m, run: ([x]) => m.forward(x) };
    }
    case 'FourierEmbedding': {
      const m = new FourierEmbedding(kw.num_channels, { scale: kw.scale });
      return { module: m, run: ([x]) => m.forward(x) };
    }
    case 'UNetBlock': {
      const m = new UNetBlock(kw.in_channels, kw.out_channels, kw.emb_channels, {
        up: kw.up,
        down: kw.down,
        attention: kw.attention,
        numHeads: kw.num_heads,
        channelsPerHead: kw.channels_per_head,
        skipScale: kw.skip_scale,
        eps: kw.eps,
        resampleFilter: kw.resample_filter,
        resampleProj: kw.resample_proj,
        adaptiveScale: kw.adaptive_scale,
      });
      return { module: m, run: ([x, emb]) => m.forward(x, emb) };
    }
    default:
      throw new Error(`unknown class ${cls}`);
  }
}

for (const name of ['net_layer_norm_linear', 'net_layer_embeddings', 'net_layer_unetblock']) {
  describe(name, () => {
    const { golden, weights } = goldenWithWeights(name);
    for (const [mod, spec] of Object.entries<any>(golden.params.modules)) {
      it(`matches ${mod}`, async () => {
        const { module, run } = build(spec.class, spec.kwargs);
        loadStateDict(module, under(weights, mod));
        const inputs = (spec.inputs as string[]).map((n) => input(golden, n));
        await expectNoLeak(() => {
          const y = run(inputs);
          expect(y.shape).toEqual(golden.expected[mod].shape);
          expectGolden(golden, mod, y);
          return y;
        });
        tf.dispose(inputs);
        module.dispose();
      });
    }
  });
}

describe('layer validation', () => {
  it('GroupNorm rejects a channel count that does not split into groups', () => {
    expect(() => new GroupNorm(3)).toThrow(FewstepError);
    expect(() => new GroupNorm(3)).toThrow(/numChannels/);
  });
  it('GroupNorm.forward names a wrong channel count', () => {
    const gn = new GroupNorm(8);
    const x = tf.zeros([1, 2, 2, 4]);
    expect(() => gn.forward(x)).toThrow(/x must be a tensor with 8 channels/);
    x.dispose();
    gn.dispose();
  });
  it('Linear.forward names a wrong feature count', () => {
    const lin = new Linear(3, 2);
    const x = tf.zeros([2, 4]);
    expect(() => lin.forward(x)).toThrow(/Linear.forward: x must be a tensor whose last axis is 3/);
    x.dispose();
    lin.dispose();
  });
  it('embeddings reject odd channel counts and non-1-D labels', () => {
    expect(() => new PositionalEmbedding(5)).toThrow(/even number/);
    expect(() => new FourierEmbedding(7)).toThrow(/even number/);
    const p = new PositionalEmbedding(8);
    const t = tf.zeros([2, 1]);
    expect(() => p.forward(t)).toThrow(/noiseLabels must be a tensor of rank 1/);
    t.dispose();
  });
  it('UNetBlock checks emb shape and head divisibility', () => {
    expect(() => new UNetBlock(8, 12, 4, { attention: true, numHeads: 5 })).toThrow(/numHeads must be a divisor/);
    const b = new UNetBlock(8, 8, 4);
    const x = tf.zeros([2, 4, 4, 8]);
    const emb = tf.zeros([2, 5]);
    expect(() => b.forward(x, emb)).toThrow(/emb must be a tensor of shape \[2, 4\]/);
    tf.dispose([x, emb]);
    b.dispose();
  });
  it('UNetBlock heads: ADM blocks under 64 channels have no attention layers', () => {
    const b = new UNetBlock(16, 32, 8, { attention: true });
    expect(b.numHeads).toBe(0);
    expect(b.namedParameters().some(([n]) => n.startsWith('qkv'))).toBe(false);
    b.dispose();
  });
});
