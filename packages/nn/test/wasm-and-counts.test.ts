import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@fewstep/backends';
import { ectPreconditioning, edmPreconditioning, precondition } from '@fewstep/core';
import { expectGolden, expectNoLeak } from '@fewstep/testing';
import { ddpmpp, DhariwalUNet, loadStateDict, ncsnpp, SongUNet } from '@fewstep/nn';
import { buildNetwork, goldenWithWeights, input } from './helpers';

// The same networks on wasm (with @fewstep/backends' training kernels): goldens; and a full
// forward + backward + Adam step of each network family, on cpu and wasm, with no tensor growth.
beforeAll(async () => {
  const report = await initBackend('wasm');
  expect(report.backend).toBe('wasm');
});

describe('net_* goldens on wasm', () => {
  for (const name of ['net_songunet_ddpmpp_edm', 'net_songunet_ncsnpp_edm', 'net_dhariwalunet_cond_edm', 'net_songunet_ddpmpp_ecm']) {
    it(name, () => {
      const { golden, weights } = goldenWithWeights(name);
      const net = buildNetwork(golden);
      loadStateDict(net, weights, { prefix: golden.params.state_dict_prefix });
      const p = golden.params.precond;
      const pre = p.class === 'ECMPrecond' ? ectPreconditioning({ mode: 'eval', sigmaMin: p.resolved.sigma_min }) : edmPreconditioning({ sigmaData: p.resolved.sigma_data });
      tf.tidy(() => {
        const classLabels = golden.inputs.class_labels ? input(golden, 'class_labels') : undefined;
        expectGolden(golden, 'D', precondition(net.forward, pre)(input(golden, 'x'), input(golden, 'sigma'), { classLabels }));
      });
      net.dispose();
    });
  }
});

describe.each(['cpu', 'wasm'])('a training step of each network on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });
  const tiny = { imgResolution: 8, inChannels: 2, outChannels: 2, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4], dropout: 0.1 };
  for (const [name, make] of [
    ['SongUNet DDPM++', () => ddpmpp(tiny)],
    ['SongUNet NCSN++', () => ncsnpp(tiny)],
    ['DhariwalUNet', () => new DhariwalUNet({ ...tiny })],
  ] as const) {
    it(`${name}: loss decreases over Adam steps, no leaks`, async () => {
      const net: SongUNet | DhariwalUNet = make();
      const D = precondition(net.forward, edmPreconditioning());
      const opt = tf.train.adam(1e-2);
      const x = tf.randomNormal([2, 8, 8, 2], 0, 0.5, 'float32', 1);
      const sigma = tf.tensor1d([0.5, 1.5]);
      const noisy = tf.add(x, tf.mul(tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 2), sigma.reshape([-1, 1, 1, 1])));
      const step = (k: number) => opt.minimize(() => tf.mean(tf.square(tf.sub(D(noisy, sigma, { train: true, dropoutSeed: k }), x))) as tf.Scalar, true)!;
      const first = step(0);
      const l0 = first.dataSync()[0];
      first.dispose();
      let last = l0;
      await expectNoLeak(() => {
        for (let k = 1; k < 6; k++) {
          const l = step(k);
          last = l.dataSync()[0];
          l.dispose();
        }
      });
      expect(Number.isFinite(last)).toBe(true);
      expect(last).toBeLessThan(l0);
      tf.dispose([x, sigma, noisy]);
      opt.dispose();
      net.dispose();
    });
  }
});

describe('parameter counts of the standard CIFAR-10 configurations', () => {
  it('DDPM++ 55.7M and NCSN++ 56.4M, as published', () => {
    const cifar = { imgResolution: 32, inChannels: 3, outChannels: 3, augmentDim: 9 };
    const a = ddpmpp(cifar);
    expect(a.numParameters()).toBe(55_733_891);
    a.dispose();
    const b = ncsnpp(cifar);
    expect(Math.round(b.numParameters() / 1e5) / 10).toBe(56.4);
    b.dispose();
  }, 120_000);
});
