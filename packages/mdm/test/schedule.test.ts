import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, type MdmScheduleType } from '@fewstep/core';
import { expectGolden, expectNoLeak, useTestBackend } from '@fewstep/testing';
import { NestedSchedule, configFromReference, convertPrediction } from '@fewstep/mdm';
import { golden } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

describe('NestedSchedule', () => {
  for (const name of ['mdm_schedule_shift_cosine_n64_p1_r2', 'mdm_schedule_shift_deepfloyd_n1000_p1_r4', 'mdm_schedule_shift_deepfloyd_n1000_p2_r16_4']) {
    it(`per-resolution tables match ${name}`, async () => {
      const g = golden(name);
      const p = g.params;
      const s = new NestedSchedule({ type: p.schedule_type.toLowerCase() as MdmScheduleType, steps: p.num_diffusion_steps, scales: p.scales, power: p.schedule_shifted_power });
      const t = g.inputs.t.data;
      p.scales.forEach((_: number, k: number) => expectGolden(g, `gamma_res${k}`, t.map((i) => s.gamma(k, i))));
      const idx = tf.tensor1d(t, 'int32');
      await expectNoLeak(() => s.gammaAt(0, idx));
      const table = s.gammaAt(p.scales.length - 1, idx);
      expectGolden(g, `gamma_res${p.scales.length - 1}`, table);
      tf.dispose([idx, table]);
    });
  }

  it('eps <-> v conversions are inverse to each other', () => {
    const xt = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 1);
    const v = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 2);
    const g = tf.tensor1d([0.3, 0.9]);
    const eps = convertPrediction('v', 'eps', xt, v, g);
    const back = convertPrediction('eps', 'v', xt, eps, g);
    expect(tf.max(tf.abs(back.sub(v))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([xt, v, g, eps, back]);
  });

  it('rejects bad input', () => {
    expect(() => new NestedSchedule({ scales: [2, 1], steps: 1 })).toThrow(FewstepError);
    expect(() => new NestedSchedule({ scales: [1, 2] })).toThrow(FewstepError);
    const s = new NestedSchedule({ scales: [2, 1], steps: 10 });
    expect(() => s.gamma(2, 0)).toThrow(/k/);
    expect(() => s.gamma(0, 11)).toThrow(/i/);
    expect(() => configFromReference({ resolution_channels: '8,8', conditioning_feature_dim: 512 })).toThrow(/text conditioning/);
    expect(() => configFromReference({ resolution_channels: '8,8', inner_config: { resolution_channels: '8' }, skip_inner_unet_input: true })).toThrow(/skip_inner_unet_input/);
    expect(configFromReference({ resolution_channels: '8,16', num_resnets_per_resolution: '2', attention_levels: '' })).toMatchObject({ resolutionChannels: [8, 16], numResnetsPerResolution: [2], attentionLevels: [] });
  });
});
