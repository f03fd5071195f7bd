import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  consistencyPreconditioning,
  ectPreconditioning,
  edmPreconditioning,
  FewstepError,
  precondition,
  snrWeighting,
  vePreconditioning,
  vpPreconditioning,
  type Preconditioning,
  type RawNetwork,
} from '@fewstep/core';
import { expectGolden, expectNoLeak, toTensor, useTestBackend, type Golden } from '@fewstep/testing';
import { golden } from './helpers';

beforeAll(useTestBackend);

function checkCoefficients(g: Golden, pre: Preconditioning): Promise<unknown> {
  const sigmas = g.inputs.sigma.data;
  // float64 path, rounded once
  const nums = sigmas.map((s) => pre.coefficients(s));
  expectGolden(g, 'c_skip', nums.map((c) => c.cSkip));
  expectGolden(g, 'c_out', nums.map((c) => c.cOut));
  expectGolden(g, 'c_in', nums.map((c) => c.cIn));
  expectGolden(g, 'c_noise', nums.map((c) => c.cNoise));
  // float32 tensor path
  return expectNoLeak(() => {
    const s = toTensor(g.inputs.sigma);
    const c = pre.coefficients(s);
    expectGolden(g, 'c_skip', c.cSkip);
    expectGolden(g, 'c_out', c.cOut);
    expectGolden(g, 'c_in', c.cIn);
    expectGolden(g, 'c_noise', c.cNoise);
    return [s, c.cSkip, c.cOut, c.cIn, c.cNoise];
  });
}

describe('preconditioning coefficients match the references', () => {
  it('EDM', () => checkCoefficients(golden('edm_precond_coeffs'), edmPreconditioning()));
  it('VP', () => checkCoefficients(golden('vp_precond_coeffs'), vpPreconditioning()));
  it('VE', () => checkCoefficients(golden('ve_precond_coeffs'), vePreconditioning()));
  it('ECT train', () => checkCoefficients(golden('ect_precond_coeffs_train'), ectPreconditioning({ mode: 'train' })));
  it('ECT eval', () => checkCoefficients(golden('ect_precond_coeffs_eval'), ectPreconditioning({ mode: 'eval' })));

  it('CM boundary and EDM scalings, rescaled_t and weightings', async () => {
    const g = golden('cm_scalings_and_weightings');
    const sigmas = g.inputs.sigma.data;
    const b = consistencyPreconditioning({ sigmaMin: 0.002 });
    const e = edmPreconditioning({ noiseLabel: 'cm' });
    expectGolden(g, 'boundary_c_skip', sigmas.map((s) => b.coefficients(s).cSkip));
    expectGolden(g, 'boundary_c_out', sigmas.map((s) => b.coefficients(s).cOut));
    expectGolden(g, 'boundary_c_in', sigmas.map((s) => b.coefficients(s).cIn));
    expectGolden(g, 'edm_c_skip', sigmas.map((s) => e.coefficients(s).cSkip));
    expectGolden(g, 'edm_c_out', sigmas.map((s) => e.coefficients(s).cOut));
    expectGolden(g, 'edm_c_in', sigmas.map((s) => e.coefficients(s).cIn));
    expectGolden(g, 'rescaled_t', sigmas.map((s) => b.coefficients(s).cNoise));
    expectGolden(g, 'rescaled_t_at_sigma_0', b.coefficients(0).cNoise);
    await expectNoLeak(() => {
      const s = toTensor(g.inputs.sigma);
      const out = [s];
      for (const [key, kind] of [
        ['weight_snr', 'snr'],
        ['weight_snrp1', 'snr+1'],
        ['weight_karras', 'karras'],
        ['weight_truncated_snr', 'truncated-snr'],
        ['weight_uniform', 'uniform'],
      ] as const) {
        const w = snrWeighting(kind, s, 0.5);
        expectGolden(g, key, w);
        out.push(w);
      }
      return out;
    });
  });
});

/** The affine raw network of the goldens: F(u, n) = a u + b n + c. */
const affine = (a: number, b: number, c: number): RawNetwork => (u, n) =>
  tf.tidy(() => tf.add(tf.add(tf.mul(u, a), tf.mul(n.reshape([-1, ...new Array(u.rank - 1).fill(1)]), b)), c));

describe('preconditioned forward passes match the references', () => {
  const cases: [string, () => Preconditioning][] = [
    ['edm_precond_forward_affine', () => edmPreconditioning()],
    ['ect_precond_forward_eval_affine', () => ectPreconditioning({ mode: 'eval' })],
    ['cm_denoise_boundary_affine', () => consistencyPreconditioning({ sigmaMin: 0.002 })],
    ['cm_denoise_edm_affine', () => edmPreconditioning({ noiseLabel: 'cm' })],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const g = golden(name);
      const { a, b, c } = g.params;
      await expectNoLeak(() => {
        const x = toTensor(g.inputs.x);
        const sigma = toTensor(g.inputs.sigma);
        const D = precondition(affine(a, b, c), make())(x, sigma);
        expectGolden(g, g.expected.D ? 'D' : 'denoised', D);
        return [x, sigma, D];
      });
    });
  }

  it('the consistency boundary gives f(x, sigmaMin) = x exactly', () => {
    const pre = consistencyPreconditioning({ sigmaMin: 0.002 });
    const c = pre.coefficients(0.002);
    expect(c.cSkip).toBe(1);
    expect(c.cOut).toBe(0);
  });
});

describe('preconditioning errors', () => {
  it('rejects bad parameters and inputs', () => {
    expect(() => edmPreconditioning({ sigmaData: 0 })).toThrow(/sigmaData must be a number > 0, got 0/);
    expect(() => consistencyPreconditioning({ sigmaMin: 1, sigmaMax: 0.5 })).toThrow(/sigmaMax must be a number > 1, got 0.5/);
    expect(() => ectPreconditioning({ mode: 'test' as never })).toThrow(/mode must be one of "train", "eval"/);
    expect(() => vpPreconditioning({ M: 0.5 })).toThrow(FewstepError);
    expect(() => vePreconditioning({ sigmaMin: -1 })).toThrow(FewstepError);
    expect(() => edmPreconditioning().coefficients(-1)).toThrow(/sigma must be a number >= 0, got -1/);
    expect(() => precondition(null as never, edmPreconditioning())).toThrow(/raw must be a function/);
    const net = precondition(affine(1, 0, 0), edmPreconditioning());
    const x = tf.ones([2, 2, 2, 1]);
    expect(() => net(x, tf.ones([3]))).toThrow(/sigma must be a number or a tensor of shape \[2\]/);
    const scalarSigma = tf.scalar(2);
    const fromScalar = net(x, scalarSigma);
    const twoSigmas = tf.fill([2], 2);
    expect(Array.from(fromScalar.dataSync())).toEqual(Array.from(net(x, twoSigmas).dataSync()));
    tf.dispose([scalarSigma, fromScalar, twoSigmas]);
    const bad = precondition(() => tf.ones([1]), edmPreconditioning());
    expect(() => bad(x, tf.ones([2]))).toThrow(/raw network output must have the shape of x/);
    x.dispose();
  });
});
