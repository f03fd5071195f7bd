import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import { loadSafetensors } from '@fewstep/nn';
import { expectGolden, expectNoLeak, useTestBackend } from '@fewstep/testing';
import { NestedUNet, UNet, configFromReference, type NestedUNetConfig } from '@fewstep/mdm';
import { fixtureBytes, golden, input } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

function build(name: string) {
  const g = golden(name);
  const config = configFromReference(g.params.config) as NestedUNetConfig;
  const net = new NestedUNet(g.params.input_channels, g.params.output_channels, config);
  const weightsFile = name.replace('_mixed_batch', '') + '.safetensors';
  loadSafetensors(net, fixtureBytes(weightsFile));
  return { g, net };
}

const INTERMEDIATES: Record<string, string> = {
  outer_temb: 'temb',
  inner_temb: 'inner_unet.temb',
  outer_conv_in: 'conv_in',
  in_adapter: 'in_adapter',
  inner_conv_in: 'inner_unet.conv_in',
  out_adapter: 'out_adapter',
};

describe('NestedUNet network parity (PyTorch weights from .safetensors)', () => {
  for (const name of ['mdm_nested_unet_tiny', 'mdm_nested_unet_tiny_mixed_batch', 'mdm_nested_unet_r4', 'mdm_nested2_unet_tiny']) {
    it(name, () => {
      const { g, net } = build(name);
      expect(net.numParameters()).toBe(g.params.num_parameters);
      expect(net.nestRatio).toEqual(g.params.nest_ratio);
      expect(net.scales).toEqual(g.params.scales);
      expect(net.resolutions(g.params.resolutions[0])).toEqual(g.params.resolutions);
      const xs = net.scales.map((_, k) => input(g, `x_res${k}`));
      const times = input(g, 'times');
      const store: Record<string, tf.Tensor> = {};
      const before = tf.memory().numTensors;
      const outs = net.forward(xs, times, { intermediates: store });
      outs.forEach((o, k) => expectGolden(g, `out_res${k}`, o));
      for (const [key, ours] of Object.entries(INTERMEDIATES)) expectGolden(g, key, store[ours]);
      tf.dispose([...outs, ...Object.values(store)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...xs, times]);
      net.dispose();
    });
  }

  it('no leaks over repeated training steps (gradients reach the inner network and adapters)', async () => {
    const config: NestedUNetConfig = {
      resolutionChannels: [4, 8],
      numResnetsPerResolution: 1,
      attentionLevels: [],
      numGroupsNorm: 4,
      inner: { resolutionChannels: [8], numResnetsPerResolution: 1, attentionLevels: [], numGroupsNorm: 4, attentionGroups: 4, numHeads: 2, temporalDim: 16 },
    };
    const net = new NestedUNet(1, 1, config, { seed: 3 });
    // Zero-initialised layers would block the gradient to the inner network at the first step.
    for (const [, v] of net.namedParameters()) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 7));
    const xs = [tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 1), tf.randomNormal([3, 4, 4, 1], 0, 1, 'float32', 2)];
    const times = tf.tensor1d([3, 500, 999]);
    const opt = tf.train.adam(1e-3);
    const lossFn = () => tf.addN(net.forward(xs, times, { train: true }).map((o) => tf.mean(tf.square(o)))) as tf.Scalar;
    const step = () => opt.minimize(lossFn, false, net.trainableParameters());
    step(); // creates the optimizer slots
    await expectNoLeak(() => {
      for (let i = 0; i < 3; i++) step();
    });
    const grads = tf.variableGrads(lossFn);
    const norm = (n: string) => tf.norm(grads.grads[net.getEntry(n)!.variable.name]).dataSync()[0];
    for (const n of ['in_adapter.weight', 'out_adapter.weight', 'inner_unet.conv_in.weight', 'conv_in.weight', 'inner_unet.temb_layer1.weight']) {
      expect(norm(n)).toBeGreaterThan(0);
    }
    tf.dispose([grads.value, ...Object.values(grads.grads), ...xs, times]);
    opt.dispose();
    net.dispose();
  });

  it('rejects a pyramid that does not match the levels, and weights of another config', () => {
    const { g, net } = build('mdm_nested_unet_tiny');
    const times = tf.zeros([2]);
    const ok = [tf.zeros([2, 16, 16, 3]), tf.zeros([2, 8, 8, 3])];
    expect(() => net.forward([ok[0]], times)).toThrow(FewstepError);
    const wrongSide = tf.zeros([2, 4, 4, 3]);
    expect(() => net.forward([ok[0], wrongSide], times)).toThrow(/xs\[1\]/);
    const odd = [tf.zeros([2, 6, 6, 3]), tf.zeros([2, 3, 3, 3])];
    expect(() => net.forward(odd, times)).toThrow(/multiple of/);
    const moreHigh = [tf.zeros([3, 16, 16, 3]), tf.zeros([2, 8, 8, 3])];
    expect(() => net.forward(moreHigh, times)).toThrow(/at least as many/);
    expect(() => net.forward(ok, tf.zeros([3]))).toThrow(/times/);
    const other = new NestedUNet(3, 3, { ...configFromReference(g.params.config), resolutionChannels: [16, 16], numGroupsNorm: 8 } as NestedUNetConfig);
    expect(() => loadSafetensors(other, fixtureBytes('mdm_nested_unet_tiny.safetensors'))).toThrow(FewstepError);
    const plain = new UNet(3, 3, { resolutionChannels: [16, 32], attentionLevels: [], numGroupsNorm: 8 });
    expect(() => loadSafetensors(plain, fixtureBytes('mdm_nested_unet_tiny.safetensors'))).toThrow(/unexpected/);
    tf.dispose([times, ...ok, wrongSide, ...odd, ...moreHigh]);
    other.dispose();
    plain.dispose();
    net.dispose();
  });
});
