import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, replayNoise, seededNoise, type Network } from '@fewstep/core';
import { expectGolden, expectNoLeak, goldenDraws, toTensor, useTestBackend } from '@fewstep/testing';
import { edmLoss, flowMatchingLoss, pseudoHuberDistance, ucgmTrainer } from '@fewstep/losses';
import { betaTimes, linearTransport } from '@fewstep/core';
import { affine, golden, gradsOf, perSampleSums, rows } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

describe('edmLoss', () => {
  const g = golden('edm_loss_affine');

  it('matches edm_loss_affine: per-sample losses, reduced loss, sigma and gradients', () => {
    const p = affine(g.params.a, g.params.b, g.params.c);
    // The golden's toy denoiser D(x, sigma) = a x + b ln(sigma) + c.
    const D: Network = (x, sigma) => tf.tidy(() => tf.add(tf.add(tf.mul(p.a, x), tf.mul(p.b, rows(tf.log(sigma), x))), p.c));
    const x = toTensor(g.inputs.images);
    const loss = edmLoss({ pMean: g.params.P_mean, pStd: g.params.P_std, sigmaData: g.params.sigma_data });
    const res = loss.compute({ network: D, x, noise: replayNoise(goldenDraws(g)) });
    expectGolden(g, 'loss_reduced', res.loss);
    expectGolden(g, 'sigma', res.stats.sigma as tf.Tensor);
    const sums = perSampleSums(g.expected.loss.data, 3);
    const tol = g.tolerances!.loss;
    res.perSample.dataSync().forEach((v, i) => expect(Math.abs(v - sums[i])).toBeLessThanOrEqual(8 * tol.atol + tol.rtol * Math.abs(sums[i])));
    tf.dispose(res as unknown as tf.TensorContainer);
    const grads = gradsOf(p, () => loss.compute({ network: D, x, noise: replayNoise(goldenDraws(g)) }).loss);
    expectGolden(g, 'loss_reduced', grads.value);
    expectGolden(g, 'grad_a', grads.a);
    expectGolden(g, 'grad_b', grads.b);
    expectGolden(g, 'grad_c', grads.c);
    x.dispose();
    p.dispose();
  });

  it('rejects a non-positive sigmaData and a label batch that does not match the images', () => {
    expect(() => edmLoss({ sigmaData: 0 })).toThrow(FewstepError);
    expect(() => edmLoss({ sigmaData: -0.5 })).toThrow(/sigmaData/);
    expect(() => edmLoss({ pStd: 0 })).toThrow(FewstepError);
    const x = tf.zeros([2, 2, 2, 1]);
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const net: Network = (v) => v.clone();
    expect(() => edmLoss().compute({ network: net, x, classLabels: labels, noise: seededNoise(1) })).toThrow(/classLabels/);
    expect(() => edmLoss().compute({ network: net, x, noise: undefined as never })).toThrow(/ctx.noise/);
    expect(() => edmLoss().compute({ network: (v) => v.reshape([2, 4]), x, noise: seededNoise(1) })).toThrow(FewstepError);
    tf.dispose([x, labels]);
  });

  it('leaks no tensors (compute and a gradient step)', async () => {
    const p = affine(0.5, 0.1, 0);
    const D: Network = (x, s) => tf.tidy(() => tf.add(tf.mul(p.a, x), tf.mul(p.b, rows(tf.log(s), x))));
    const x = tf.randomNormal([4, 3]);
    const loss = edmLoss();
    const noise = seededNoise(3);
    await expectNoLeak(() => loss.compute({ network: D, x, noise }));
    await expectNoLeak(() => gradsOf(p, () => loss.compute({ network: D, x, noise }).loss));
    x.dispose();
    p.dispose();
  });
});

describe('flowMatchingLoss', () => {
  it('is zero for the exact rectified-flow velocity of a point mass and positive otherwise', () => {
    // Data x = m (a point mass): then z = (x_t - (1 - t) m)/t and F* = z - m is exact.
    const m = tf.tensor2d([[0.3, -0.2]]).tile([4, 1]);
    const exact: Network = (xt, t) => tf.tidy(() => tf.sub(tf.div(tf.sub(xt, tf.mul(rows(tf.sub(1, t), xt), m)), rows(t, xt)), m));
    const res = flowMatchingLoss().compute({ network: exact, x: m, noise: seededNoise(5) });
    expect(res.loss.dataSync()[0]).toBeLessThan(1e-8);
    const zero: Network = (xt) => tf.zerosLike(xt);
    const res2 = flowMatchingLoss().compute({ network: zero, x: m, noise: seededNoise(5) });
    expect(res2.loss.dataSync()[0]).toBeGreaterThan(0.1);
    tf.dispose([m, res, res2] as unknown as tf.TensorContainer);
  });
});

describe('flowMatchingLoss against UCGM-T (consistency ratio 0 is flow matching)', () => {
  it('reproduces ucgm_train_linear_cor00_emd00_enr00_huc00_cos0_wnone step 0 (loss and gradients) with the RMS distance', () => {
    const g = golden('ucgm_train_linear_cor00_emd00_enr00_huc00_cos0_wnone');
    const P = g.params;
    const p = affine(P.model.a, P.model.b, P.model.c);
    const offsets = tf.tensor1d(P.model.class_offsets);
    const net: Network = (xt, t, o) =>
      tf.tidy(() => tf.add(tf.add(tf.add(tf.mul(p.a, xt), tf.mul(p.b, rows(t, xt))), p.c), rows(tf.gather(offsets, o!.classLabels!), xt)));
    const loss = flowMatchingLoss({
      transport: linearTransport(),
      times: betaTimes({ a: P.time_dist_ctrl[0], b: P.time_dist_ctrl[1], scale: P.time_dist_ctrl[2] }),
      distance: pseudoHuberDistance({ c: 0, over: 'mean' }),
    });
    const x = toTensor(g.inputs.x_step0);
    const labels = toTensor(g.expected.labels_after_step0); // flow matching has no label dropout of its own
    const draws = () => replayNoise([
      { kind: 'beta', data: g.inputs.t_beta_step0.data },
      { kind: 'normal', data: g.inputs.z_step0.data },
    ]);
    const res = loss.compute({ network: net, x, classLabels: labels, noise: draws() });
    expectGolden(g, 'per_sample_loss_step0', res.perSample);
    tf.dispose(res as unknown as tf.TensorContainer);
    const grads = gradsOf(p, () => loss.compute({ network: net, x, classLabels: labels, noise: draws() }).loss);
    expectGolden(g, 'loss_step0', grads.value);
    expectGolden(g, 'grad_a_step0', grads.a);
    expectGolden(g, 'grad_b_step0', grads.b);
    expectGolden(g, 'grad_c_step0', grads.c);
    tf.dispose([x, labels, offsets]);
    p.dispose();
  });

  it('UCGM-T without labels (unconditional) runs every branch and leaks nothing', async () => {
    const net: Network = (xt, t) => tf.tidy(() => tf.mul(xt, rows(tf.add(t, 0.5), xt)));
    const x = tf.randomNormal([4, 2, 2, 3], 0, 1, 'float32', 1);
    for (const [cor, enr] of [[0, 0.5], [0.5, 1.5], [1, 2]]) {
      const tr = ucgmTrainer({ transport: linearTransport(), consistencyRatio: cor, enhancedRatio: enr, timeDistribution: [2, 2, 1] });
      await expectNoLeak(() => {
        const r = tr.compute({ network: net, x, noise: seededNoise(3) });
        expect(Number.isFinite(r.loss.dataSync()[0])).toBe(true);
        expect(r.stats.labels).toBeUndefined();
        return r;
      });
    }
    x.dispose();
  });
});
