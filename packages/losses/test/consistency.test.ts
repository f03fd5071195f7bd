import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  FewstepError,
  consistencyPreconditioning,
  precondition,
  replayNoise,
  seededNoise,
  type Network,
  type RawNetwork,
} from '@fewstep/core';
import { expectGolden, expectNoLeak, goldenDraws, toTensor, useTestBackend, type Golden } from '@fewstep/testing';
import { consistencyDistillationLoss, consistencyTrainingLoss, type ConsistencyLoss } from '@fewstep/losses';
import { snrWeighting, updateEma } from '@fewstep/core';
import { affine, golden, goldenNames, gradsOf, rows, type Affine } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

/** Raw network F(u, tau) = a u + b tau + c inside CM's boundary preconditioning (tau = 250 ln(sigma + 1e-44)). */
function boundaryNet(p: Affine, g: Golden, spy?: { F?: tf.Tensor }): Network {
  const raw: RawNetwork = (u, tau) => {
    const F = tf.add(tf.add(tf.mul(p.a, u), tf.mul(p.b, rows(tau, u))), p.c);
    if (spy) spy.F = tf.keep(F.clone());
    return F;
  };
  return precondition(raw, consistencyPreconditioning({ sigmaData: g.params.sigma_data, sigmaMin: g.params.sigma_min, sigmaMax: g.params.sigma_max }));
}

/** The golden's analytic teacher D(x; sigma) = mu + s^2/(s^2 + sigma^2) (x - mu). */
function gaussTeacher(mu: number, s: number): Network {
  return (x, sigma) => tf.tidy(() => tf.add(mu, tf.mul(rows(tf.div(s * s, tf.add(tf.square(sigma), s * s)), x), tf.sub(x, mu))));
}

function lossFor(g: Golden): ConsistencyLoss {
  const p = g.params;
  const weighting = p.weight_schedule as 'uniform' | 'karras';
  const common = { sigmaMin: p.sigma_min, sigmaMax: p.sigma_max, rho: p.rho, sigmaData: p.sigma_data, distance: p.loss_norm, weighting };
  const cur = p.curriculum
    ? {
        targetEmaMode: p.curriculum.target_ema_mode,
        scaleMode: p.curriculum.scale_mode,
        startEma: p.curriculum.start_ema,
        startScales: p.curriculum.start_scales,
        endScales: p.curriculum.end_scales,
        totalSteps: p.curriculum.total_steps,
      }
    : { startScales: p.num_scales, endScales: p.num_scales, startEma: p.target_ema };
  if (p.mode === 'ct') return consistencyTrainingLoss({ ...common, curriculum: cur });
  return consistencyDistillationLoss({ ...common, curriculum: cur, solver: p.mode === 'cd_euler' ? 'euler' : 'heun' });
}

describe.each([...goldenNames('cm_ct_loss_'), ...goldenNames('cm_cd_loss_')])('%s', (name) => {
  it('matches per-sample losses, the mean, the target network output and d/d(a, b, c)', () => {
    const g = golden(name);
    const p = g.params;
    const online = affine(p.a, p.b, p.c);
    const frozen = affine(p.a_t, p.b_t, p.c_t, false);
    const spy: { F?: tf.Tensor } = {};
    const network = boundaryNet(online, g);
    const targetNetwork = boundaryNet(frozen, g, spy);
    const teacher = p.teacher ? gaussTeacher(p.teacher.mu, p.teacher.s) : undefined;
    const x = toTensor(g.inputs.x_start);
    const loss = lossFor(g);
    const step = p.curriculum?.step ?? 0;
    expect(loss.schedule(step).numScales).toBe(p.num_scales);
    expect(loss.schedule(step).targetEma).toBeCloseTo(p.target_ema, 12);
    const ctx = () => ({ network, targetNetwork, teacher, x, step, noise: replayNoise(goldenDraws(g)) });
    const res = loss.compute(ctx());
    expectGolden(g, 'loss', res.perSample);
    expectGolden(g, 'loss_mean', res.loss);
    expectGolden(g, 'target_output_F', spy.F!);
    tf.dispose([res as unknown as tf.TensorContainer, spy.F!]);
    const grads = gradsOf(online, () => loss.compute(ctx()).loss);
    tf.dispose(spy.F!);
    expectGolden(g, 'loss_mean', grads.value);
    expectGolden(g, 'grad_a', grads.a);
    expectGolden(g, 'grad_b', grads.b);
    expectGolden(g, 'grad_c', grads.c);
    [online, frozen].forEach((v) => v.dispose());
    x.dispose();
  });
});

describe('consistency losses: contract and errors', () => {
  it('CD requires a teacher; bad options raise FewstepError', () => {
    const x = tf.zeros([2, 4]);
    const net: Network = (v) => v.clone();
    expect(() => consistencyDistillationLoss().compute({ network: net, x, noise: seededNoise(0) })).toThrow(/ctx.teacher/);
    expect(() => consistencyDistillationLoss({ solver: 'rk4' as never })).toThrow(FewstepError);
    expect(() => consistencyTrainingLoss({ distance: 'l3' as never })).toThrow(/distance/);
    expect(() => consistencyTrainingLoss({ sigmaData: 0 })).toThrow(/sigmaData/);
    expect(() => consistencyTrainingLoss({ weighting: 'exp' as never })).toThrow(FewstepError);
    expect(() => snrWeighting('snr', x, -1)).toThrow(FewstepError);
    x.dispose();
  });

  it('weightings follow CM get_weightings (snr = sigma^-2)', () => {
    const s = tf.tensor1d([0.5, 2]);
    const w = (k: Parameters<typeof snrWeighting>[0]) => Array.from(snrWeighting(k, s).dataSync());
    expect(w('uniform')).toEqual([1, 1]);
    expect(w('snr')).toEqual([4, 0.25]);
    expect(w('snr+1')).toEqual([5, 1.25]);
    expect(w('karras')).toEqual([8, 4.25]);
    expect(w('truncated-snr')).toEqual([4, 1]);
    s.dispose();
  });

  it('the EMA target update is CM update_ema and leaks nothing; CT leaks nothing over a gradient step', async () => {
    const online = affine(1, 2, 3);
    const target = affine(0, 0, 0, false);
    await expectNoLeak(() => updateEma(target.list, online.list, 0.9));
    expect(target.list.map((v) => v.dataSync()[0])).toEqual([1, 2, 3].map((v) => Math.fround(0.1 * v)).map((v, i) => target.list[i].dataSync()[0]));
    expect(target.a.dataSync()[0]).toBeCloseTo(0.1, 6);
    expect(() => updateEma(target.list, online.list.slice(1), 0.5)).toThrow(FewstepError);
    expect(() => updateEma(target.list, online.list, 1.5)).toThrow(/rate/);
    const g = golden('cm_ct_loss_l2');
    const network = boundaryNet(online, g);
    const x = tf.randomNormal([2, 2, 2, 1]);
    const loss = consistencyTrainingLoss({ curriculum: { startScales: 10, endScales: 10 } });
    const noise = seededNoise(0);
    await expectNoLeak(() => gradsOf(online, () => loss.compute({ network, targetNetwork: boundaryNet(target, g), x, noise }).loss));
    x.dispose();
    online.dispose();
    target.dispose();
  });

  it('online and target forwards share the dropout seed; the CD teacher runs with train: false', () => {
    const calls: string[] = [];
    const spy = (tag: string): Network => (x, _t, o) => {
      calls.push(`${tag}:${o?.dropoutSeed}:${o?.train}:${o?.augmentLabels ? 'aug' : '-'}`);
      return x.clone();
    };
    const x = tf.ones([2, 3]);
    const aug = tf.zeros([2, 1]);
    const loss = consistencyDistillationLoss({ solver: 'heun', curriculum: { startScales: 5, endScales: 5 } });
    tf.dispose(loss.compute({
      network: spy('online'), targetNetwork: spy('target'), teacher: spy('teacher'), x, step: 3,
      networkOptions: { train: true, augmentLabels: aug }, noise: seededNoise(0),
    }) as unknown as tf.TensorContainer);
    expect(calls).toEqual(['online:3:true:aug', 'teacher:undefined:false:aug', 'teacher:undefined:false:aug', 'target:3:true:aug']);
    tf.dispose([x, aug]);
  });
});
