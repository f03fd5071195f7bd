import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, replayNoise, seededNoise, type MdmScheduleType } from '@fewstep/core';
import { expectGolden, expectNoLeak, useTestBackend, type Golden } from '@fewstep/testing';
import { NestedSchedule, NestedUNet, imagePyramid, multiResNetwork, nestedLoss, type MdmPrediction } from '@fewstep/mdm';
import { golden, input } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

const PRED: Record<string, MdmPrediction> = { DDPM: 'eps', DDIM: 'eps', V_PREDICTION: 'v' };

export function scheduleOf(g: Golden): NestedSchedule {
  const p = g.params;
  return new NestedSchedule({
    type: p.schedule_type.toLowerCase() as MdmScheduleType,
    steps: p.num_diffusion_steps,
    scales: p.scales,
    shifted: p.schedule_shifted,
    power: p.schedule_shifted_power,
  });
}

const CASES = [
  'mdm_loss_r2_eps_rescale_single_vdm',
  'mdm_loss_r2_vpred_eps_shift_double',
  'mdm_loss_r2_vpred_eps_shift_w4_1',
  'mdm_loss_r2_vpred_v_mixed_2_1',
  'mdm_loss_r4_2_vpred_eps_shift_p2_w16_4_1',
  'mdm_loss_r4_vpred_eps_rescale_w4_1',
];

describe('nestedLoss matches NestedDiffusion.get_loss (mdm_loss_*)', () => {
  for (const name of CASES) {
    it(name, async () => {
      const g = golden(name);
      const p = g.params;
      const R = p.scales.length;
      const loss = nestedLoss({
        schedule: scheduleOf(g),
        prediction: PRED[p.prediction_type],
        lossTarget: PRED[p.loss_target_type],
        doubleLoss: p.use_double_loss,
        weights: p.multi_res_weights ?? undefined,
        mixedRatio: p.mixed_ratio ?? undefined,
        vdmWeighting: p.use_vdm_loss_weights,
        recordIntermediates: true,
      });
      const preds = Array.from({ length: R }, (_, k) => input(g, `model_pred_res${k}`));
      const seen: number[][] = [];
      // The stub vision model: returns the recorded predictions for the rows it was given.
      const network = multiResNetwork((xs, t) => {
        seen.push(Array.from(t.dataSync()));
        return xs.map((x, k) => preds[k].slice(0, x.shape[0]));
      });
      const images = input(g, 'images');
      const draws = () =>
        replayNoise([
          { kind: 'randint', data: g.inputs.time.data },
          ...Array.from({ length: R }, (_, k) => ({ kind: 'normal' as const, data: g.inputs[`eps_res${k}`].data })),
        ]);
      await expectNoLeak(() => loss.compute({ network, x: images, noise: draws() }));
      const out = loss.compute({ network, x: images, noise: draws() });
      expect(seen[0]).toEqual(g.inputs.time.data);
      expectGolden(g, 'loss_per_sample', out.perSample);
      expectGolden(g, 'loss_reduced', out.loss);
      for (let k = 0; k < R; k++) {
        expectGolden(g, `gamma_res${k}`, out.stats[`gamma_res${k}`] as tf.Tensor);
        expectGolden(g, `x_t_res${k}`, out.stats[`x_t_res${k}`] as tf.Tensor);
        expectGolden(g, `target_res${k}`, out.stats[`target_res${k}`] as tf.Tensor);
        expectGolden(g, `pred_for_loss_res${k}`, out.stats[`pred_res${k}`] as tf.Tensor);
      }
      if (g.expected.vdm_weights) expectGolden(g, 'vdm_weights', out.stats.vdm_weights as tf.Tensor);
      tf.dispose([out.loss, out.perSample, ...Object.values(out.stats).filter((v): v is tf.Tensor => typeof v !== 'number'), images, ...preds]);
    });
  }

  it('the image pyramid averages blocks of the previous level', () => {
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
    const [a, b, c] = imagePyramid(x, [4, 2, 1]);
    expect(Array.from(b.dataSync())).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(Array.from(c.dataSync())).toEqual([7.5]);
    tf.dispose([x, a, b, c]);
  });

  it('trains a tiny NestedUNet without leaking over repeated steps', async () => {
    const net = new NestedUNet(1, 1, {
      resolutionChannels: [4, 8],
      numResnetsPerResolution: 1,
      attentionLevels: [],
      numGroupsNorm: 4,
      inner: { resolutionChannels: [8], numResnetsPerResolution: 1, attentionLevels: [], numGroupsNorm: 4, attentionGroups: 4, temporalDim: 16 },
    });
    const loss = nestedLoss({ schedule: new NestedSchedule({ scales: net.scales, steps: 100 }), prediction: 'v', lossTarget: 'eps', weights: [4, 1], mixedRatio: '2:1' });
    const x = tf.randomUniform([3, 8, 8, 1], -1, 1, 'float32', 4);
    const noise = seededNoise(1);
    const opt = tf.train.adam(1e-3);
    const step = (i: number) => opt.minimize(() => loss.compute({ network: net.asNetwork(), x, noise, step: i }).loss, false, net.trainableParameters());
    step(0);
    await expectNoLeak(() => {
      for (let i = 1; i < 4; i++) step(i);
    });
    tf.dispose(x);
    opt.dispose();
    net.dispose();
  });

  it('rejects loss weights of the wrong length and bad mixes', () => {
    const schedule = new NestedSchedule({ scales: [4, 1] });
    expect(() => nestedLoss({ schedule, weights: [16, 4, 1] })).toThrow(FewstepError);
    expect(() => nestedLoss({ schedule, weights: '4:1:1' })).toThrow(/weights must be 2 values/);
    expect(() => nestedLoss({ schedule, weights: [4, 0] })).toThrow(FewstepError);
    expect(() => nestedLoss({ schedule, weights: [4, 1], doubleLoss: false })).toThrow(/doubleLoss/);
    expect(() => nestedLoss({ schedule, mixedRatio: '1' })).toThrow(/mixedRatio/);
    expect(() => new NestedSchedule({ scales: [4, 2] })).toThrow(/ending in 1/);
    expect(() => new NestedSchedule({ scales: [3, 2, 1] })).toThrow(/multiple/);
    const loss = nestedLoss({ schedule });
    const x = tf.zeros([2, 8, 8, 1]);
    const wrong = multiResNetwork((xs) => [xs[0].clone()]);
    expect(() => loss.compute({ network: wrong, x, noise: seededNoise(0) })).toThrow(/2 tensors/);
    const odd = tf.zeros([2, 6, 6, 1]);
    expect(() => loss.compute({ network: wrong, x: odd, noise: seededNoise(0) })).toThrow(/multiples of 4/);
    tf.dispose([x, odd]);
  });
});
