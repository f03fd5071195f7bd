import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, consistencyPreconditioning, replayNoise, seededNoise, type Network } from '@fewstep/core';
import { expectGolden, expectNoLeak, goldenDraws, toTensor, useTestBackend } from '@fewstep/testing';
import { ictLoss } from '@fewstep/losses';
import { affine, golden, gradsOf, rows, type Affine } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

/** Kinyugo's consistency function: boundary scalings around F(x, sigma) = a x + b ln(sigma) + c on UNSCALED x (the golden's network). */
function kinyugoNet(p: Affine, sigmaMin: number, sigmaData: number): Network {
  const pre = consistencyPreconditioning({ sigmaMin, sigmaData });
  return (x, sigma) =>
    tf.tidy(() => {
      const c = pre.coefficients(sigma);
      const F = tf.add(tf.add(tf.mul(p.a, x), tf.mul(p.b, rows(tf.log(sigma), x))), p.c);
      return tf.add(tf.mul(rows(c.cSkip, x), x), tf.mul(rows(c.cOut, x), F));
    });
}

describe('ictLoss', () => {
  const g = golden('ict_loss_pseudo_huber');
  const P = g.params;
  const loss = ictLoss({ s0: P.s0, s1: P.s1, totalSteps: P.total_steps, pMean: P.P_mean, pStd: P.P_std });

  it('uses the N(k) curriculum, ascending grid and index probabilities of the golden', () => {
    const { numScales, sigmas } = loss.discretisation(P.step);
    expect(numScales).toBe(P.num_timesteps);
    expectGolden(g, 'sigmas', sigmas);
  });

  it('matches ict_loss_pseudo_huber: indices, predicted, target, weights, per-sample loss, loss and gradients', () => {
    const p = affine(P.a, P.b, P.c);
    const network = kinyugoNet(p, P.sigma_min, P.sigma_data);
    const x = toTensor(g.inputs.x);
    const ctx = () => ({ network, x, step: P.step, noise: replayNoise(goldenDraws(g)) });
    const res = loss.compute(ctx());
    expect(res.stats.c).toBeCloseTo(P.huber_c, 9);
    expectGolden(g, 'indices', res.stats.indices as tf.Tensor);
    expectGolden(g, 'predicted', res.stats.predicted as tf.Tensor);
    expectGolden(g, 'target', res.stats.target as tf.Tensor);
    expectGolden(g, 'loss_weights', res.stats.weight as tf.Tensor);
    expectGolden(g, 'loss_per_sample', res.perSample);
    expectGolden(g, 'loss', res.loss);
    tf.dispose(res as unknown as tf.TensorContainer);
    const grads = gradsOf(p, () => loss.compute(ctx()).loss);
    expectGolden(g, 'grad_a', grads.a);
    expectGolden(g, 'grad_b', grads.b);
    expectGolden(g, 'grad_c', grads.c);
    x.dispose();
    p.dispose();
  });

  it('rejects c < 0 and bad curricula; leaks nothing over a gradient step', async () => {
    expect(() => ictLoss({ c: -0.1 })).toThrow(FewstepError);
    expect(() => ictLoss({ s0: 0 })).toThrow(/s0/);
    expect(() => ictLoss({ pStd: -1 })).toThrow(/pStd/);
    const p = affine(0.8, 0.02, 0.03);
    const network = kinyugoNet(p, 0.002, 0.5);
    const x = tf.randomNormal([3, 2, 2, 1]);
    const noise = seededNoise(9);
    await expectNoLeak(() => gradsOf(p, () => ictLoss({ s0: 4, s1: 16, totalSteps: 100 }).compute({ network, x, noise, step: 50 }).loss));
    x.dispose();
    p.dispose();
  });
});
