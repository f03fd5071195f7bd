import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@fewstep/backends';
import { seededNoise } from '@fewstep/core';
import { loadSafetensors } from '@fewstep/nn';
import { expectGolden, expectNoLeak } from '@fewstep/testing';
import { NestedSchedule, NestedUNet, configFromReference, nestedLoss, type NestedUNetConfig } from '@fewstep/mdm';
import { fixtureBytes, golden, input } from './helpers';

// The example trains on wasm: the network must match the reference there too, and train without leaks.
beforeAll(async () => {
  const report = await initBackend('wasm');
  expect(report.backend).toBe('wasm');
});

describe('NestedUNet on wasm (with @fewstep/backends training kernels)', () => {
  it('matches mdm_nested2_unet_tiny (3 resolutions)', () => {
    const g = golden('mdm_nested2_unet_tiny');
    const net = new NestedUNet(3, 3, configFromReference(g.params.config) as NestedUNetConfig);
    loadSafetensors(net, fixtureBytes('mdm_nested2_unet_tiny.safetensors'));
    const xs = [0, 1, 2].map((k) => input(g, `x_res${k}`));
    const times = input(g, 'times');
    const outs = net.forward(xs, times);
    outs.forEach((o, k) => expectGolden(g, `out_res${k}`, o));
    tf.dispose([...outs, ...xs, times]);
    net.dispose();
  });

  it('trains with the nested loss without leaking', async () => {
    const net = new NestedUNet(1, 1, {
      resolutionChannels: [4, 8],
      numResnetsPerResolution: 1,
      attentionLevels: [],
      numGroupsNorm: 4,
      inner: { resolutionChannels: [8, 8], numResnetsPerResolution: 1, attentionLevels: [1], numGroupsNorm: 4, attentionGroups: 4, numHeads: 2, temporalDim: 16 },
    });
    const loss = nestedLoss({ schedule: new NestedSchedule({ scales: net.scales, steps: 100 }), prediction: 'v', lossTarget: 'eps', weights: '4:1' });
    const x = tf.randomUniform([4, 16, 16, 1], -1, 1, 'float32', 4);
    const noise = seededNoise(1);
    const opt = tf.train.adam(1e-3);
    const step = (i: number) => opt.minimize(() => loss.compute({ network: net.asNetwork(), x, noise, step: i }).loss, true, net.trainableParameters())!;
    step(0).dispose();
    const losses: number[] = [];
    await expectNoLeak(() => {
      for (let i = 1; i < 4; i++) {
        const l = step(i);
        losses.push(l.dataSync()[0]);
        l.dispose();
      }
    });
    expect(losses.every(Number.isFinite)).toBe(true);
    tf.dispose(x);
    opt.dispose();
    net.dispose();
  });
});
