import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { karrasSigmas, linearTransport, seededNoise } from '@fewstep/core';
import {
  cmMultistepSampler,
  ectMultistepSampler,
  edmSampler,
  kdiffusionSampler,
  oneStepSampler,
  sample,
  sampleSteps,
  ucgmSampler,
  type Sampler,
} from '@fewstep/samplers';
import { gaussConsistency, gaussDenoiser, ucgmGaussModel } from './helpers';

/**
 * Exactness against mathematics: for data N(mu, s^2) the denoiser is known in closed form, and the
 * probability-flow ODE in sigma space maps x(sigma) = mu + sqrt(s^2 + sigma^2) xi to any other
 * level. Deterministic samplers must converge to that map at their theoretical order.
 */
beforeAll(useTestBackend);

const mu = 0.3;
const s = 0.5;
const sigmaMax = 10;
const sigmaMin = 0.01;
const latentsData = Array.from({ length: 16 }, (_, i) => -2 + (4 * i) / 15);

/** Max |sample - exact PF-ODE solution| at sigmaMin, starting from x_T = sigmaMax * latents. */
function odeError(sampler: Sampler): number {
  const latents = tf.tensor2d(latentsData, [16, 1]);
  const out = sample(sampler, { network: gaussDenoiser(mu, s), latents, noise: seededNoise(3) });
  const got = out.dataSync();
  const k = Math.sqrt(s * s + sigmaMin * sigmaMin) / Math.sqrt(s * s + sigmaMax * sigmaMax);
  let err = 0;
  latentsData.forEach((z, i) => {
    const exact = mu + k * (sigmaMax * z - mu);
    err = Math.max(err, Math.abs(got[i] - exact));
  });
  tf.dispose([latents, out]);
  return err;
}

const grid = (n: number) => karrasSigmas(n, { sigmaMin, sigmaMax, rho: 7, appendZero: false });

/** Observed orders log2(e(N) / e(2N)) over a doubling sequence. */
function orders(errs: number[]): number[] {
  const o = errs.slice(1).map((e, i) => Math.log2(errs[i] / e));
  if (process.env.FEWSTEP_PRINT_ORDERS) console.log('errors', errs.map((e) => e.toExponential(2)).join(' '), 'orders', o.map((v) => v.toFixed(2)).join(' '));
  return o;
}

describe('deterministic samplers converge to the exact PF-ODE solution at their order', () => {
  it('Euler: first order', () => {
    const errs = [8, 16, 32, 64].map((n) => odeError(kdiffusionSampler('euler', { sigmas: grid(n) })));
    for (const o of orders(errs)) expect(o).toBeGreaterThan(0.8), expect(o).toBeLessThan(1.3);
    expect(errs[3]).toBeLessThan(errs[0] / 6);
  });

  it('Heun (k-diffusion and EDM): second order', () => {
    const errs = [16, 32, 64, 128].map((n) => odeError(kdiffusionSampler('heun', { sigmas: grid(n) })));
    for (const o of orders(errs)) expect(o).toBeGreaterThan(1.7), expect(o).toBeLessThan(2.4);
    expect(errs[3]).toBeLessThan(5e-4);
    // EDM's Heun with S_churn = 0 is the same deterministic map (its last step is Euler to 0, so compare the
    // to-zero solution instead).
    const edmErr = (n: number) => {
      const latents = tf.tensor2d(latentsData, [16, 1]);
      const out = sample(edmSampler({ steps: n, sigmaMin: 0.002, sigmaMax }), { network: gaussDenoiser(mu, s), latents, noise: seededNoise(1) });
      const got = out.dataSync();
      const k = s / Math.sqrt(s * s + sigmaMax * sigmaMax);
      const e = Math.max(...latentsData.map((z, i) => Math.abs(got[i] - (mu + k * (sigmaMax * z - mu)))));
      tf.dispose([latents, out]);
      return e;
    };
    // Four times the steps: about 16 times smaller error at second order.
    expect(edmErr(32) / edmErr(128)).toBeGreaterThan(10);
  });

  it('DPM-2 and DPM-Solver++(2M): second order', () => {
    const dpm2 = [16, 32, 64, 128].map((n) => odeError(kdiffusionSampler('dpm2', { sigmas: grid(n) })));
    for (const o of orders(dpm2)) expect(o).toBeGreaterThan(1.7), expect(o).toBeLessThan(2.4);
    const dpmpp = [16, 32, 64, 128].map((n) => odeError(kdiffusionSampler('dpmpp-2m', { sigmas: grid(n) })));
    for (const o of orders(dpmpp)) expect(o).toBeGreaterThan(1.7), expect(o).toBeLessThan(2.4);
  });

  it('UCGM-S on rectified flow: order 1 is Euler (first order), order 2 is Heun (second order)', () => {
    const T = linearTransport();
    // From x = z at t0 = 1 - gap, the exact flow map for N(mu, s^2) data: x(t) = (1-t) mu + sqrt((1-t)^2 s^2 + t^2) xi.
    const run = (order: 1 | 2, n: number, gap: number) => {
      const z = tf.tensor4d(latentsData, [16, 1, 1, 1]);
      const sampler = ucgmSampler({ transport: T, steps: order === 2 ? 2 * n : n, order, gaps: [gap, 0] });
      const t0 = sampler.grid[0];
      let last: tf.Tensor | undefined;
      // The final state x at t = 0 (for order 2 the corrected one).
      for (const ev of sampleSteps(sampler, { network: ucgmGaussModel(T, [mu], s), latents: z, noise: seededNoise(0) })) {
        last?.dispose();
        const kept = ev.keep();
        last = kept.x;
        tf.dispose([kept.xHat, kept.zHat]);
      }
      const got = last!.dataSync();
      const e = Math.max(
        ...latentsData.map((v, i) => {
          const xi = (v - (1 - t0) * mu) / Math.sqrt((1 - t0) ** 2 * s * s + t0 * t0);
          return Math.abs(got[i] - (mu + s * xi));
        }),
      );
      tf.dispose([z, last!]);
      return e;
    };
    const e1 = [8, 16, 32, 64].map((n) => run(1, n, 0));
    for (const o of orders(e1)) expect(o).toBeGreaterThan(0.8), expect(o).toBeLessThan(1.3);
    // Heun's order approaches 2 from above on this problem (3.7, 3.1, 2.8 from 4 steps): check the fine end.
    const e2 = [16, 32, 64, 128].map((n) => run(2, n, 0.001));
    const o2 = orders(e2);
    for (const o of o2) expect(o).toBeGreaterThan(1.7);
    expect(o2[o2.length - 1]).toBeLessThan(2.5);
  });
});

describe('consistency samplers with the exact consistency function', () => {
  it('one step gives the exact PF-ODE map to sigmaMin', () => {
    const latents = tf.tensor2d(latentsData, [16, 1]);
    const out = sample(oneStepSampler({ sigmaMax: 80 }), { network: gaussConsistency(mu, s, 0.002), latents });
    const k = Math.sqrt(s * s + 0.002 ** 2) / Math.sqrt(s * s + 80 * 80);
    const got = out.dataSync();
    latentsData.forEach((z, i) => expect(got[i]).toBeCloseTo(mu + k * (80 * z - mu), 5));
    tf.dispose([latents, out]);
  });

  it('multistep samples have the data mean and variance within sampling error (CM and ECT)', () => {
    const n = 4000;
    for (const sampler of [
      cmMultistepSampler({ ts: [0, 22, 39], clipDenoised: false }),
      ectMultistepSampler({ midT: [0.821] }),
      edmSampler({ steps: 64, sChurn: 20 }),
    ]) {
      const isDenoiser = sampler.name.startsWith('edm');
      const net = isDenoiser ? gaussDenoiser(mu, s) : gaussConsistency(mu, s, 0.002);
      const out = sample(sampler, { network: net, shape: [n, 1], noise: seededNoise(11) });
      const v = Array.from(out.dataSync());
      const m = v.reduce((a, b) => a + b, 0) / n;
      const varr = v.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1);
      // Standard errors: s / sqrt(n) for the mean, s^2 sqrt(2 / (n - 1)) for the variance; 4 sigma bands.
      expect(Math.abs(m - mu)).toBeLessThan((4 * s) / Math.sqrt(n));
      expect(Math.abs(varr - s * s)).toBeLessThan(4 * s * s * Math.sqrt(2 / (n - 1)) + 1e-3);
      out.dispose();
    }
  });
});
