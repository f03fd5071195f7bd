import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cmCurriculum,
  ectRatio,
  ectStage,
  ectTToR,
  erf,
  ictIndexProbabilities,
  ictNumScales,
  ictSigmas,
  ictWeights,
  mdmGammas,
  roundHalfEven,
  shiftGamma,
  vdmLossWeights,
  type MdmScheduleType,
} from '@fewstep/core';
import { expectGolden, expectNoLeak, toTensor, useTestBackend } from '@fewstep/testing';
import { golden } from './helpers';

beforeAll(useTestBackend);

describe('CM curricula (create_ema_and_scales_fn)', () => {
  for (const name of ['cm_curriculum_adaptive_progressive', 'cm_curriculum_fixed_progressive', 'cm_curriculum_fixed_fixed']) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const f = cmCurriculum({
        targetEmaMode: p.target_ema_mode,
        scaleMode: p.scale_mode,
        startEma: p.start_ema,
        startScales: p.start_scales,
        endScales: p.end_scales,
        totalSteps: p.total_steps,
      });
      const out = (p.steps as number[]).map(f);
      expectGolden(g, 'target_ema', out.map((o) => o.targetEma));
      expectGolden(g, 'num_scales', out.map((o) => o.numScales));
    });
  }
});

describe('iCT discretisation', () => {
  it('ict_discretization', () => {
    const g = golden('ict_discretization');
    const p = g.params;
    expectGolden(g, 'num_timesteps', (p.steps as number[]).map((k) => ictNumScales(k, { totalSteps: p.total_steps, s0: p.s0, s1: p.s1 })));
    const sigmas = ictSigmas(p.N_for_grid, { sigmaMin: p.sigma_min, sigmaMax: p.sigma_max, rho: p.rho });
    expectGolden(g, 'sigmas', sigmas);
    expectGolden(g, 'timestep_probs', ictIndexProbabilities(sigmas, { pMean: p.P_mean, pStd: p.P_std }));
    expectGolden(g, 'loss_weights', ictWeights(sigmas));
  });
  it('erf is accurate to double precision', () => {
    // reference values of erf
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    expect(erf(6)).toBe(1);
  });
});

describe('ECT mapping and stages', () => {
  for (const name of ['ect_t_to_r_const_q2', 'ect_t_to_r_sigmoid_q2_k8_b1']) {
    it(name, async () => {
      const g = golden(name);
      const { adj, q, k, b, stages } = g.params;
      for (const stage of stages as number[]) {
        const opts = { mapping: adj, q, k, b };
        expectGolden(g, `r_stage${stage}`, g.inputs.t.data.map((t) => ectTToR(t, stage, opts)));
        expectGolden(g, `ratio_stage${stage}`, ectRatio(stage, q));
        await expectNoLeak(() => {
          const t = toTensor(g.inputs.t);
          const r = ectTToR(t, stage, opts);
          expectGolden(g, `r_stage${stage}`, r);
          return [t, r];
        });
      }
    });
  }
  it('ect_stage_schedule_sigmoid (the real training loop)', () => {
    const g = golden('ect_stage_schedule_sigmoid');
    const p = g.params;
    const n = g.expected.num_iterations.data[0];
    const stages = Array.from({ length: n }, (_, k) =>
      ectStage(k, { batchSize: p.batch_size, kimgPerTick: p.kimg_per_tick, doubleTicks: p.double_ticks }),
    );
    expectGolden(g, 'stage_per_iteration', stages);
    const probe = g.inputs.probe_t.data;
    expectGolden(g, 'r_probe_per_iteration', stages.flatMap((s) => probe.map((t) => ectTToR(t, s, { mapping: p.adj, q: p.q, k: p.k, b: p.b }))));
    expect(n).toBe(Math.ceil((p.total_kimg * 1000) / p.batch_size));
  });
  it('roundHalfEven is Python round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 0.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 0, 3]);
  });
});

describe('MDM schedules', () => {
  for (const type of ['cosine', 'ddpm', 'deepfloyd'] as MdmScheduleType[]) {
    for (const n of [16, 1000]) {
      it(`${type} n=${n}`, () => {
        const g = golden(`mdm_schedule_${type}_n${n}`);
        const gammas = mdmGammas(type, n, { betaStart: g.params.beta_start, betaEnd: g.params.beta_end });
        expectGolden(g, 'schedule_fn', gammas);
        expectGolden(g, 'gammas', gammas.map(Math.fround));
        expectGolden(g, 'vdm_loss_weights', vdmLossWeights(gammas.map(Math.fround)));
      });
    }
  }
  for (const name of ['mdm_schedule_shift_cosine_n64_p1_r2', 'mdm_schedule_shift_deepfloyd_n1000_p1_r4', 'mdm_schedule_shift_deepfloyd_n1000_p2_r16_4']) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const gammas = mdmGammas(p.schedule_type.toLowerCase(), p.num_diffusion_steps).map(Math.fround);
      (p.scales as number[]).forEach((scale, k) => {
        expectGolden(g, `gamma_res${k}`, g.inputs.t.data.map((t) => shiftGamma(gammas[t], scale, p.schedule_shifted_power)));
      });
    });
  }
});

describe('curriculum errors', () => {
  it('names the argument and value', () => {
    expect(() => cmCurriculum({ startScales: 1 })).toThrow(/startScales must be an integer >= 2, got 1/);
    expect(() => cmCurriculum({ targetEmaMode: 'adaptive' })).toThrow(/targetEmaMode/);
    expect(() => cmCurriculum()(-1)).toThrow(/step must be an integer >= 0/);
    expect(() => ictSigmas(1)).toThrow(/N must be an integer >= 2/);
    expect(() => ictIndexProbabilities([0.1])).toThrow(/sigmas/);
    expect(() => ectTToR(1, 0, { q: 1 })).toThrow(/q must be a number > 1, got 1/);
    expect(() => ectTToR(-1, 0)).toThrow(/t must be a number >= 0/);
    expect(() => ectStage(0, { batchSize: 0, kimgPerTick: 1, doubleTicks: 1 })).toThrow(/batchSize/);
    expect(() => mdmGammas('sigmoid' as never, 10)).toThrow(/type must be one of/);
    expect(() => shiftGamma(1.5, 2)).toThrow(/gamma must be a number >= 0 and <= 1, got 1.5/);
    expect(() => roundHalfEven(Number.NaN)).toThrow(/x must be a finite number/);
    expect(() => ectTToR(tf.tensor([1]) as never, -1)).toThrow(/stage/);
  });
});
