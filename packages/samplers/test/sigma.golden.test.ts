import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, toTensor, useTestBackend, type Golden } from '@fewstep/testing';
import { consistencyPreconditioning, ectPreconditioning, precondition, type Network, type RawNetwork } from '@fewstep/core';
import {
  cmSampler,
  ectMultistepSampler,
  edmSampler,
  kdiffusionSampler,
  sample,
  type Sampler,
} from '@fewstep/samplers';
import { gaussConsistency, gaussDenoiser, golden, goldenNoise, recording } from './helpers';

beforeAll(useTestBackend);

const num = (v: unknown) => (v === 'inf' ? Infinity : (v as number));

/** Runs a golden case: replayed draws, recorded network times, no leaks, no unused draws. */
function check(g: Golden, sampler: Sampler, net: Network, start: { latents?: string; x?: string; shape?: boolean }, timesKey = 'denoiser_sigmas', mapTime?: (s: number) => number) {
  const rec = recording(net);
  const noise = goldenNoise(g);
  const before = tf.memory().numTensors;
  const latents = start.latents ? toTensor(g.inputs[start.latents]) : undefined;
  const x0 = start.x ? toTensor(g.inputs[start.x]) : undefined;
  const shape = start.shape ? g.expected.x.shape : undefined;
  const out = sample(sampler, { network: rec.net, latents, x: x0, shape, noise });
  expectGolden(g, 'x', out);
  if (g.expected[timesKey]) expectGolden(g, timesKey, mapTime ? rec.times.map(mapTime) : rec.times);
  expect(noise.remaining()).toBe(0);
  tf.dispose([out, latents, x0].filter((t): t is tf.Tensor => t !== undefined));
  expect(tf.memory().numTensors).toBe(before);
}

describe('k-diffusion samplers (crowsonkb/k-diffusion sampling.py)', () => {
  for (const [name, kind] of [
    ['kdiff_sample_euler', 'euler'],
    ['kdiff_sample_heun_churn5', 'heun'],
    ['kdiff_sample_dpm_2', 'dpm2'],
    ['kdiff_sample_dpmpp_2m', 'dpmpp-2m'],
  ] as const) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const sampler = kdiffusionSampler(kind, {
        sigmas: g.inputs.sigmas.data,
        sChurn: p.s_churn,
        sTMin: p.s_tmin,
        sTMax: num(p.s_tmax),
        sNoise: p.s_noise,
      });
      check(g, sampler, gaussDenoiser(p.mu, p.s), { x: 'x_init' });
    });
  }
});

describe('EDM samplers (NVlabs/edm generate.py)', () => {
  for (const name of ['edm_sampler_heun_churn0', 'edm_sampler_heun_churn30', 'edm_ablation_euler_churn10']) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const sampler = edmSampler({
        steps: p.num_steps,
        sigmaMin: p.sigma_min,
        sigmaMax: p.sigma_max,
        rho: p.rho,
        sChurn: p.S_churn,
        sTMin: p.S_min,
        sTMax: num(p.S_max),
        sNoise: p.S_noise,
        solver: p.solver === 'euler' ? 'euler' : 'heun',
      });
      check(g, sampler, gaussDenoiser(p.mu, p.s), { latents: 'latents' });
    });
  }
});

/** OpenAI CM's KarrasDenoiser(distillation=True) around F(u, tau) = a u + b tau + c. */
function affineBoundary(p: Record<string, number>): Network {
  const raw: RawNetwork = (u, tau) => tf.tidy(() => tf.add(tf.add(tf.mul(u, p.a), tf.mul(tau.reshape([-1, 1, 1, 1]), p.b)), p.c));
  return precondition(raw, consistencyPreconditioning({ sigmaMin: p.sigma_min, sigmaMax: p.sigma_max }));
}

describe('OpenAI CM karras_sample', () => {
  const cases = [
    'cm_karras_sample_heun_churn0',
    'cm_karras_sample_heun_churn4',
    'cm_karras_sample_euler',
    'cm_karras_sample_dpm',
    'cm_karras_sample_onestep',
    'cm_multistep_1step',
    'cm_multistep_2step_ts0_22_39',
    'cm_multistep_3step_ts0_8_14_17',
    'cm_multistep_2step_boundary_affine',
  ];
  for (const name of cases) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const grid = { sigmaMin: p.sigma_min, sigmaMax: p.sigma_max, rho: p.rho };
      // One entry point, as karras_sample: the kind is the reference's `sampler` argument.
      const sampler = cmSampler(p.sampler, {
        steps: p.steps,
        ...grid,
        ts: p.ts ?? undefined,
        sChurn: p.s_churn,
        sTMin: p.s_tmin,
        sTMax: num(p.s_tmax),
        sNoise: p.s_noise,
      });
      let net: Network;
      if (p.model === 'affine_precond') net = affineBoundary(p);
      else if (p.model === 'gauss_consistency') net = gaussConsistency(p.mu, p.s, p.sigma_min);
      else net = gaussDenoiser(p.mu, p.s);
      const tau = (s: number) => 250 * Math.log(s + 1e-44);
      if (p.model === 'affine_precond') check(g, sampler, net, { shape: true }, 'denoiser_tau', tau);
      else check(g, sampler, net, { shape: true });
    });
  }
});

describe('ECT few-step sampler (locuslab/ect ct_eval.py generator_fn)', () => {
  for (const name of ['ect_eval_1step', 'ect_eval_2step_mid0821', 'ect_eval_2step_precond_affine']) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      let net: Network;
      if (p.net === 'gauss_consistency') net = gaussConsistency(p.mu, p.s, p.sigma_min);
      else {
        const raw: RawNetwork = (u, n) => tf.tidy(() => tf.add(tf.add(tf.mul(u, p.a), tf.mul(n.reshape([-1, 1, 1, 1]), p.b)), p.c));
        net = precondition(raw, ectPreconditioning({ mode: 'eval', sigmaMin: p.ect_sigma_min }));
      }
      check(g, ectMultistepSampler({ tMax: p.t_max, midT: p.mid_t }), net, { latents: 'latents' });
    });
  }
});
