import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, replayNoise, seededNoise, type MdmScheduleType, type RecordedDraw } from '@fewstep/core';
import { expectGolden, expectNoLeak, useTestBackend, type Golden } from '@fewstep/testing';
import { NestedSchedule, multiResNetwork, nestedSample, nestedSampleAll, nestedSampleSteps, nestedTimesteps, thresholdX0, type MdmPrediction, type MdmThreshold } from '@fewstep/mdm';
import { golden } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

const PRED: Record<string, MdmPrediction> = { DDPM: 'eps', DDIM: 'eps', V_PREDICTION: 'v' };

function setup(g: Golden) {
  const p = g.params;
  const R = p.scales.length;
  const schedule = new NestedSchedule({ type: p.schedule_type.toLowerCase() as MdmScheduleType, steps: p.num_diffusion_steps, scales: p.scales, shifted: p.schedule_shifted, power: p.schedule_shifted_power });
  const times: number[][] = [];
  const { a, b, c, T } = p.model;
  // The affine stub p_k = a_k x_k + b_k (time / T) + c_k.
  const network = multiResNetwork((xs, t) => {
    times.push(Array.from(t.dataSync()));
    return xs.map((x, k) => tf.tidy(() => x.mul(a[k]).add(t.div(T).mul(b[k]).reshape([-1, 1, 1, 1])).add(c[k])));
  });
  const draws: RecordedDraw[] = [];
  for (let k = 0; k < R; k++) draws.push({ kind: 'normal', data: g.inputs[`init_noise_res${k}`].data });
  const noisy = (p.noisy_step_indices as number[]).length;
  for (let j = 0; j < noisy; j++) {
    for (let k = 0; k < R; k++) {
      const all = g.inputs[`step_noise_res${k}`];
      const size = all.shape.slice(1).reduce((u, v) => u * v, 1);
      draws.push({ kind: 'normal', data: all.data.slice(j * size, (j + 1) * size) });
    }
  }
  const options = {
    schedule,
    prediction: PRED[p.prediction_type],
    steps: p.num_inference_steps,
    resampleSteps: p.resample_steps,
    eta: p.ddim_eta,
    threshold: p.threshold_function.toLowerCase() as MdmThreshold,
  };
  const shape = g.inputs.init_noise_res0.shape;
  return { R, network, draws, options, shape, times };
}

const CASES = [
  'mdm_sample_ddpm_full_vpred_shift_r2',
  'mdm_sample_ddim0_resample_eps_rescale_r2',
  'mdm_sample_ddim05_resample_vpred_shift_p2_r4_2',
  'mdm_sample_ddim1_resample_vpred_noclip_r2',
];

describe('nested sampling matches NestedDiffusion.sample (mdm_sample_*)', () => {
  for (const name of CASES) {
    it(name, async () => {
      const g = golden(name);
      const { R, network, draws, options, shape, times } = setup(g);
      const noise = replayNoise(draws);
      const x0s: tf.Tensor[][] = Array.from({ length: R }, () => []);
      const xss: tf.Tensor[][] = Array.from({ length: R }, () => []);
      const ts: number[] = [];
      const gen = nestedSampleSteps(network, options, { shape, noise });
      let r = gen.next();
      while (!r.done) {
        const kept = r.value.keep();
        ts.push(r.value.t);
        kept.x.forEach((x, k) => xss[k].push(x));
        kept.xHat.forEach((x, k) => x0s[k].push(x));
        r = gen.next();
      }
      const out = r.value;
      expect(noise.remaining()).toBe(0);
      expect(ts).toEqual(g.expected.timesteps.data);
      expectGolden(g, 'model_times', times.flat());
      expectGolden(g, 'output', out);
      for (let k = 0; k < R; k++) {
        const x0 = tf.stack(x0s[k]);
        const xs = tf.stack(xss[k]);
        expectGolden(g, `x0_res${k}`, x0);
        expectGolden(g, `x_s_res${k}`, xs);
        tf.dispose([x0, xs, ...x0s[k], ...xss[k]]);
      }
      out.dispose();
      // The run-to-end convenience gives the same sample and leaks nothing.
      await expectNoLeak(() => nestedSample(network, options, { shape, noise: replayNoise(draws) }));
      const again = nestedSample(network, options, { shape, noise: replayNoise(draws) });
      expectGolden(g, 'output', again);
      again.dispose();
    });
  }

  it('timesteps: resampling rounds half to even (numpy), not up', () => {
    expect(nestedTimesteps(12, 5)).toEqual([11, 9, 6, 4, 2, 0]);
    expect(nestedTimesteps(4)).toEqual([4, 3, 2, 1, 0]);
  });

  it('dynamic thresholding clips at a per-sample quantile', () => {
    const x = tf.tensor4d([0.5, -3, 2, 1, 0.1, 0.2, -0.3, 0.4], [2, 2, 2, 1]);
    const y = thresholdX0(x, 'dynamic-if');
    const v = Array.from(y.dataSync());
    // sample 0: |x| = [0.5, 3, 2, 1], q95 = 2.85 -> clamp to 1.5; sample 1: quantile < 1 -> 1.
    expect(v[1]).toBeCloseTo(-1, 6);
    expect(v[2]).toBeCloseTo(1, 6);
    expect(v[0]).toBeCloseTo(0.5 / 1.5, 6);
    expect(v.slice(4)).toEqual([0.1, 0.2, -0.3, 0.4].map((u) => Math.fround(u)));
    tf.dispose([x, y]);
  });

  it('returns every resolution and stops early without leaking', async () => {
    const schedule = new NestedSchedule({ scales: [2, 1], steps: 20 });
    const network = multiResNetwork((xs) => xs.map((x) => x.mul(0.1)));
    await expectNoLeak(() => nestedSampleAll(network, { schedule, steps: 4, eta: 0.5 }, { shape: [2, 8, 8, 1], noise: seededNoise(3) }));
    const all = nestedSampleAll(network, { schedule, steps: 4, eta: 0.5 }, { shape: [2, 8, 8, 1], noise: seededNoise(3) });
    expect(all.map((x) => x.shape)).toEqual([[2, 8, 8, 1], [2, 4, 4, 1]]);
    tf.dispose(all);
    await expectNoLeak(() => {
      for (const ev of nestedSampleSteps(network, { schedule, steps: 4 }, { shape: [1, 4, 4, 1] })) if (ev.index === 1) break;
    });
  });

  it('rejects bad input', () => {
    const schedule = new NestedSchedule({ scales: [2, 1], steps: 20 });
    const network = multiResNetwork((xs) => xs.map((x) => x.mul(0.1)));
    expect(() => nestedSample(network, { schedule }, { shape: [1, 5, 5, 1] })).toThrow(FewstepError);
    expect(() => nestedSample(network, { schedule, steps: 30 }, { shape: [1, 4, 4, 1] })).toThrow(/steps/);
    expect(() => nestedSample(network, { schedule, eta: -1 }, { shape: [1, 4, 4, 1] })).toThrow(/eta/);
    const lat = [tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 1])];
    expect(() => nestedSample(network, { schedule }, { latents: lat })).toThrow(/latents\[1\]/);
    tf.dispose(lat);
    const wrong = multiResNetwork((xs) => [xs[0].clone()]);
    expect(() => nestedSample(wrong, { schedule, steps: 2 }, { shape: [1, 4, 4, 1] })).toThrow(/2 tensors/);
  });
});
