import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, ectPreconditioning, ectTToR, precondition, replayNoise, seededNoise, type Network } from '@fewstep/core';
import { expectGolden, expectNoLeak, goldenDraws, toTensor, useTestBackend, type Golden } from '@fewstep/testing';
import { ectLoss } from '@fewstep/losses';
import { affine, golden, goldenNames, gradsOf, rows, type Affine } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

function networkFor(g: Golden, p: Affine): Network {
  if (g.params.net === 'affine') {
    // F(x, sigma) = a x + b ln(sigma) + c used directly as f.
    return (x, s) => tf.tidy(() => tf.add(tf.add(tf.mul(p.a, x), tf.mul(p.b, rows(tf.log(s), x))), p.c));
  }
  // ECMPrecond in train mode around F(u, n) = a u + b n + c.
  return precondition(
    (u, n) => tf.add(tf.add(tf.mul(p.a, u), tf.mul(p.b, rows(n, u))), p.c),
    ectPreconditioning({ mode: 'train', sigmaData: g.params.sigma_data }),
  );
}

describe.each(goldenNames('ect_loss_'))('%s', (name) => {
  it('matches t, r, D_yt, per-sample losses, the mean and d/d(a, b, c) with no NaN', () => {
    const g = golden(name);
    const P = g.params;
    const p = affine(P.a, P.b_net, P.c_net);
    const network = networkFor(g, p);
    const x = toTensor(g.inputs.images);
    const loss = ectLoss({ pMean: P.P_mean, pStd: P.P_std, mapping: P.adj, q: P.q, k: P.k, b: P.b, c: P.c, stage: P.stage });
    const ctx = () => ({ network, x, step: 0, noise: replayNoise(goldenDraws(g)) });
    const res = loss.compute(ctx());
    expectGolden(g, 't', res.stats.t as tf.Tensor);
    expectGolden(g, 'r', res.stats.r as tf.Tensor);
    expectGolden(g, 'D_yt', res.stats.Dyt as tf.Tensor);
    expectGolden(g, 'loss', res.perSample);
    expectGolden(g, 'loss_mean', res.loss);
    tf.dispose(res as unknown as tf.TensorContainer);
    const grads = gradsOf(p, () => loss.compute(ctx()).loss);
    for (const v of [grads.a, grads.b, grads.c]) expect(Number.isFinite(v)).toBe(true);
    expectGolden(g, 'grad_a', grads.a);
    expectGolden(g, 'grad_b', grads.b);
    expectGolden(g, 'grad_c', grads.c);
    x.dispose();
    p.dispose();
  });
});

describe('ECT stage schedule', () => {
  const g = golden('ect_stage_schedule_sigmoid');
  const P = g.params;
  it('reproduces the stage of every iteration of the real training loop and r at the probe times', () => {
    const loss = ectLoss({ stage: { batchSize: P.batch_size, kimgPerTick: P.kimg_per_tick, doubleTicks: P.double_ticks } });
    const n = g.expected.num_iterations.data[0];
    const stages = Array.from({ length: n }, (_, k) => loss.stageAt(k));
    expectGolden(g, 'stage_per_iteration', stages);
    const firsts = [0, 1, 2, 3].map((s) => stages.indexOf(s));
    expectGolden(g, 'first_iteration_of_stage', firsts);
    const probe = g.inputs.probe_t.data;
    const r = stages.flatMap((s) => probe.map((t) => ectTToR(Math.fround(t), s, { mapping: P.adj, q: P.q, k: P.k, b: P.b })));
    expectGolden(g, 'r_probe_per_iteration', r);
  });
});

describe('ectLoss: errors, r = 0 handling and leaks', () => {
  it('rejects a stage below 0, c < 0, and a bad schedule', () => {
    expect(() => ectLoss({ stage: -1 })).toThrow(FewstepError);
    expect(() => ectLoss({ stage: 1.5 })).toThrow(/stage/);
    expect(() => ectLoss({ c: -0.01 })).toThrow(/c must be/);
    expect(() => ectLoss({ q: 1 })).toThrow(FewstepError);
    expect(() => ectLoss({ stage: { batchSize: 0, kimgPerTick: 1, doubleTicks: 1 } })).toThrow(FewstepError);
    const x = tf.zeros([2, 3]);
    const net: Network = (v) => v.clone();
    expect(() => ectLoss({ stage: () => -2 }).compute({ network: net, x, noise: seededNoise(0) })).toThrow(/stage/);
    x.dispose();
  });

  it('a network that returns NaN at sigma = 0 never reaches the loss on r = 0 rows (select, not mask * inf)', () => {
    // The reference ECMPrecond at sigma = 0 gives 0 * inf = NaN; ours is evaluated at a safe sigma there.
    const nanAtZero: Network = (x, s) => tf.tidy(() => tf.mul(x, rows(tf.div(tf.log(s), tf.log(s)), x)));
    const x = tf.randomNormal([8, 2, 2, 1], 0, 1, 'float32', 1);
    const res = ectLoss({ stage: 0 }).compute({ network: nanAtZero, x, noise: seededNoise(2) });
    expect((res.stats.r as tf.Tensor).dataSync().some((v) => v === 0)).toBe(true);
    expect(Number.isFinite(res.loss.dataSync()[0])).toBe(true);
    tf.dispose([x, res as unknown as tf.TensorContainer]);
  });

  it('passes the same dropoutSeed to both forwards', () => {
    const seen: (number | undefined)[] = [];
    const net: Network = (x, _s, o) => {
      seen.push(o?.dropoutSeed);
      return x.clone();
    };
    const x = tf.ones([4, 2]);
    tf.dispose(ectLoss({ stage: 3 }).compute({ network: net, x, step: 7, noise: seededNoise(0) }) as unknown as tf.TensorContainer);
    tf.dispose(ectLoss({ stage: 3 }).compute({ network: net, x, dropoutSeed: 42, noise: seededNoise(0) }) as unknown as tf.TensorContainer);
    expect(seen).toEqual([7, 7, 42, 42]);
    x.dispose();
  });

  it('leaks no tensors over 100 loss + gradient steps', async () => {
    const p = affine(0.9, 0.05, 0.02);
    const network: Network = (x, s) => tf.tidy(() => tf.add(tf.add(tf.mul(p.a, x), tf.mul(p.b, rows(tf.log(s), x))), p.c));
    const x = tf.randomNormal([4, 2, 2, 1]);
    const loss = ectLoss({ stage: 1, c: 0.03 });
    const noise = seededNoise(4);
    const opt = tf.train.sgd(1e-3);
    await expectNoLeak(() => {
      for (let k = 0; k < 100; k++) opt.minimize(() => loss.compute({ network, x, noise, step: k }).loss, true, p.list)?.dispose();
    });
    opt.dispose();
    x.dispose();
    p.dispose();
  });
});
