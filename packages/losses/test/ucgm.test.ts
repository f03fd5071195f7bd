import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, linearTransport, replayNoise, seededNoise, transportByName, type Network } from '@fewstep/core';
import { expectGolden, expectNoLeak, toTensor, useTestBackend, type Golden } from '@fewstep/testing';
import { ucgmTrainer, type UcgmTrainer } from '@fewstep/losses';
import { affine, golden, goldenNames, gradsOf, rows, type Affine } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

/** The goldens' test model F(x_t, t, y) = a x_t + b t + c + e[y] (e: fixed class offsets, index numClasses = null). */
function testModel(p: Affine, offsets: tf.Tensor1D): Network {
  return (xt, t, o) =>
    tf.tidy(() => {
      let F = tf.add(tf.add(tf.mul(p.a, xt), tf.mul(p.b, rows(t, xt))), p.c);
      if (o?.classLabels) F = tf.add(F, rows(tf.gather(offsets, o.classLabels), xt));
      return F;
    });
}

function trainerFor(g: Golden, online: Affine, teacher: Affine): UcgmTrainer {
  const P = g.params;
  return ucgmTrainer({
    transport: transportByName(P.transport),
    consistencyRatio: P.consistc_ratio,
    emaDecayRate: P.ema_decay_rate,
    enhancedRatio: P.enhanced_ratio,
    labelDropRatio: P.lab_drop_ratio,
    enhancedRange: P.enhanced_range,
    scaledCblEps: P.scaled_cbl_eps,
    cosineLoss: P.wt_cosine_loss,
    weighting: P.weight_funcion === 'Cosine' ? 'cosine' : 'none',
    timeDistribution: P.time_dist_ctrl,
    numClasses: P.model.num_classes,
    teacherWeights: { online: online.list, teacher: teacher.list },
  });
}

const names = goldenNames('ucgm_train_');

describe.each(names)('%s', (name) => {
  it('matches every step: loss, per-sample loss, F, target, labels, EMA state, d/d(a, b, c), then SGD', () => {
    const g = golden(name);
    const P = g.params;
    const online = affine(P.model.a, P.model.b, P.model.c);
    const frozen = affine(0, 0, 0, false);
    const offsets = tf.tensor1d(P.model.class_offsets);
    const trainer = trainerFor(g, online, frozen);
    expect(trainer.enhancedRatio).toBeCloseTo(P.effective_enhanced_ratio, 12);
    const network = testModel(online, offsets);
    const teacher = testModel(frozen, offsets);
    for (let k = 0; k < P.num_steps; k++) {
      expectGolden(g, `params_before_step${k}`, online.list.map((v) => v.dataSync()[0]));
      const x = toTensor(g.inputs[`x_step${k}`]);
      const labels = toTensor(g.inputs[`labels_step${k}`]);
      const draws = [
        { kind: 'beta' as const, data: g.inputs[`t_beta_step${k}`].data },
        { kind: 'normal' as const, data: g.inputs[`z_step${k}`].data },
      ];
      // One call with the gradient (it advances the trainer state, like the reference's training_step).
      let kept: tf.TensorContainer = [];
      const grads = gradsOf(online, () => {
        const res = trainer.compute({ network, teacher, x, classLabels: labels, step: k, noise: replayNoise(draws) });
        kept = tf.keep(res.stats.distance as tf.Tensor); // loss_func's output, before the cosine weighting
        (['F', 'target', 'labels'] as const).forEach((key) => ((kept as unknown as Record<string, tf.Tensor>)[key] = tf.keep(res.stats[key] as tf.Tensor)));
        return res.loss;
      });
      const out = kept as unknown as Record<string, tf.Tensor> & tf.Tensor;
      expectGolden(g, `loss_step${k}`, grads.value);
      expectGolden(g, `per_sample_loss_step${k}`, out);
      expectGolden(g, `F_step${k}`, out.F);
      expectGolden(g, `target_step${k}`, out.target);
      expectGolden(g, `labels_after_step${k}`, out.labels);
      expectGolden(g, `ema_cmd_after_step${k}`, trainer.state().cmd);
      expectGolden(g, `grad_a_step${k}`, grads.a);
      expectGolden(g, `grad_b_step${k}`, grads.b);
      expectGolden(g, `grad_c_step${k}`, grads.c);
      tf.dispose([out, out.F, out.target, out.labels, x, labels]);
      // Plain SGD p -= lr * grad between steps, as in the generator.
      const g3 = [grads.a, grads.b, grads.c];
      online.list.forEach((v, i) => v.assign(tf.scalar(v.dataSync()[0] - P.lr * g3[i])));
    }
    expect(trainer.state().calls).toBe(P.num_steps);
    tf.dispose([offsets]);
    online.dispose();
    frozen.dispose();
  });
});

describe('ucgmTrainer: state, errors, leaks', () => {
  it('remaps enr >= 1 when cor = 0, and keeps its state explicit and restorable', () => {
    const tr = ucgmTrainer({ transport: linearTransport(), enhancedRatio: 2, emaDecayRate: 0.9, consistencyRatio: 0 });
    expect(tr.enhancedRatio).toBe(0.5);
    expect(ucgmTrainer({ transport: linearTransport(), enhancedRatio: 2, consistencyRatio: 1 }).enhancedRatio).toBe(2);
    const s = { cmd: 0.45, teacherInitialised: true, calls: 3 };
    tr.loadState(JSON.parse(JSON.stringify(s)));
    expect(tr.state()).toEqual(s);
    expect(() => tr.loadState({ cmd: 2, teacherInitialised: true, calls: 0 })).toThrow(FewstepError);
  });

  it('rejects bad options and contexts', () => {
    const T = linearTransport();
    expect(() => ucgmTrainer({ transport: T, consistencyRatio: 1.5 })).toThrow(/consistencyRatio/);
    expect(() => ucgmTrainer({ transport: T, scaledCblEps: -1 })).toThrow(/scaledCblEps/);
    expect(() => ucgmTrainer({ transport: T, weighting: 'sine' as never })).toThrow(FewstepError);
    expect(() => ucgmTrainer({ transport: T, timeDistribution: [1, 0, 1] })).toThrow(FewstepError);
    expect(() => ucgmTrainer({ transport: undefined as never })).toThrow(/transport/);
    const x = tf.zeros([4, 2]);
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const net: Network = (v) => v.clone();
    expect(() => ucgmTrainer({ transport: T }).compute({ network: net, x, classLabels: labels, noise: seededNoise(0) })).toThrow(/numClasses/);
    expect(() =>
      ucgmTrainer({ transport: T, enhancedRatio: 0.5, emaDecayRate: 0.9, numClasses: 4 }).compute({ network: net, x, classLabels: labels, noise: seededNoise(0) }),
    ).toThrow(/ctx.teacher/);
    tf.dispose([x, labels]);
  });

  it('leaks no tensors over 100 consistency steps with an EMA teacher (loss + gradient + SGD)', async () => {
    const online = affine(0.7, 0.4, -0.2);
    const frozen = affine(0, 0, 0, false);
    const offsets = tf.tensor1d([0.3, -0.5, 0.2, 0.05]);
    const tr = ucgmTrainer({
      transport: linearTransport(), consistencyRatio: 0.5, emaDecayRate: 0.99, enhancedRatio: 1.5, numClasses: 3,
      scaledCblEps: 1, cosineLoss: true, weighting: 'cosine', teacherWeights: { online: online.list, teacher: frozen.list },
    });
    const x = tf.randomNormal([4, 2, 2, 3]);
    const labels = tf.tensor1d([0, 1, 2, 0], 'int32');
    const noise = seededNoise(1);
    const opt = tf.train.sgd(1e-3);
    const ctx = { network: testModel(online, offsets), teacher: testModel(frozen, offsets), x, classLabels: labels, noise };
    await expectNoLeak(() => {
      for (let k = 0; k < 100; k++) opt.minimize(() => tr.compute({ ...ctx, step: k }).loss, true, online.list)?.dispose();
    });
    expect(tr.state().calls).toBe(100);
    expect(tr.state().cmd).toBeGreaterThan(0.9);
    tf.dispose([x, labels, offsets]);
    opt.dispose();
    online.dispose();
    frozen.dispose();
  });
});
