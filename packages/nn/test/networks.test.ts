import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, expectNoLeak, type Golden, useTestBackend } from '@fewstep/testing';
import { DhariwalUNet, ForwardContext, loadStateDict, SongUNet, type HostTensor } from '@fewstep/nn';
import { ectPreconditioning, edmPreconditioning, precondition, type Preconditioning } from '@fewstep/core';
import { buildNetwork, goldenWithWeights, input } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

function preconditioningOf(golden: Golden, mode: 'train' | 'eval'): Preconditioning {
  const p = golden.params.precond;
  if (p.class === 'ECMPrecond') return ectPreconditioning({ mode, sigmaMin: p.resolved.sigma_min, sigmaData: p.resolved.sigma_data });
  return edmPreconditioning({ sigmaData: p.resolved.sigma_data });
}

const CASES = [
  'net_songunet_ddpmpp_edm',
  'net_songunet_ddpmpp_cond_aug_edm',
  'net_songunet_ncsnpp_edm',
  'net_dhariwalunet_cond_edm',
  'net_dhariwalunet_attn_edm',
  'net_songunet_ddpmpp_ecm',
];

for (const name of CASES) {
  describe(name, () => {
    let golden: Golden;
    let weights: Record<string, HostTensor>;
    let net: SongUNet | DhariwalUNet;
    beforeAll(() => {
      ({ golden, weights } = goldenWithWeights(name));
      net = buildNetwork(golden);
      loadStateDict(net, weights, { prefix: golden.params.state_dict_prefix });
    });

    const opts = () => ({
      classLabels: golden.inputs.class_labels ? input(golden, 'class_labels') : undefined,
      augmentLabels: golden.inputs.augment_labels ? input(golden, 'augment_labels') : undefined,
    });

    it('D = preconditioned network output matches', async () => {
      const x = input(golden, 'x');
      const sigma = input(golden, 'sigma');
      const o = opts();
      const D = precondition(net.forward, preconditioningOf(golden, 'eval'));
      await expectNoLeak(() => {
        const out = D(x, sigma, o);
        expectGolden(golden, 'D', out);
        return out;
      });
      if (golden.expected.D_train) {
        const Dtrain = precondition(net.forward, preconditioningOf(golden, 'train'));
        const out = Dtrain(x, sigma, { ...o, train: true, dropoutSeed: 1 });
        expectGolden(golden, 'D_train', out);
        out.dispose();
      }
      tf.dispose([x, sigma, o.classLabels, o.augmentLabels]);
    });

    it('F, c_noise, embeddings and the first encoder conv match', () => {
      const pre = preconditioningOf(golden, 'eval');
      const x = input(golden, 'x');
      const sigma = input(golden, 'sigma');
      const o = opts();
      tf.tidy(() => {
        const c = pre.coefficients(sigma);
        expectGolden(golden, 'c_noise', c.cNoise);
        const modelInput = x.mul(c.cIn.reshape([-1, 1, 1, 1]));
        expectGolden(golden, 'model_input', modelInput);
        expectGolden(golden, 'F', net.forward(modelInput, c.cNoise, o));
        expectGolden(golden, 'map_noise', net.mapNoise.forward(c.cNoise));
        const labels = o.classLabels as tf.Tensor2D | undefined;
        const emb = net.embed(c.cNoise as tf.Tensor1D, new ForwardContext(false), labels, o.augmentLabels as tf.Tensor2D | undefined);
        expectGolden(golden, 'emb', emb);
        const first = net.enc.items()[0][1];
        expectGolden(golden, 'enc_first', first.forward(modelInput as tf.Tensor4D, emb));
      });
      tf.dispose([x, sigma, o.classLabels, o.augmentLabels]);
    });
  });
}

describe('network behaviour', () => {
  it('a scalar noise label broadcasts like a per-sample one', () => {
    const { golden, weights } = goldenWithWeights('net_songunet_ddpmpp_edm');
    const net = buildNetwork(golden);
    loadStateDict(net, weights, { prefix: 'model.' });
    tf.tidy(() => {
      const x = input(golden, 'x');
      const a = net.forward(x, tf.scalar(0.3));
      const b = net.forward(x, tf.tensor1d([0.3, 0.3]));
      expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBe(0);
    });
    net.dispose();
  });
});
