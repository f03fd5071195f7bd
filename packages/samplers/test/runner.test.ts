import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { FewstepError, createPredictor, karrasSigmas, linearTransport, seededNoise, sigmaTransport, type Network } from '@fewstep/core';
import {
  churnStep,
  defineSampler,
  edmSampler,
  kdiffusionSampler,
  sample,
  sampleSteps,
  ucgmSampler,
} from '@fewstep/samplers';
import { gaussDenoiser, recording, ucgmGaussModel } from './helpers';

beforeAll(useTestBackend);

const denoiser = gaussDenoiser(0.1, 0.5);

describe('sampleSteps: events', () => {
  it('yields one typed event per step with the grid times and the running network-call count', () => {
    const sampler = edmSampler({ steps: 5 });
    const rec = recording(denoiser);
    const seen: { index: number; t: number; tNext: number; nfe: number; shape: number[] }[] = [];
    const out = sample(sampler, { network: rec.net, shape: [2, 3], noise: seededNoise(1) });
    for (const ev of sampleSteps(sampler, { network: denoiser, shape: [2, 3], noise: seededNoise(1) })) {
      seen.push({ index: ev.index, t: ev.t, tNext: ev.tNext, nfe: ev.nfe, shape: ev.xHat.shape });
      expect(ev.steps).toBe(5);
    }
    expect(seen.map((e) => e.index)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.map((e) => e.t)).toEqual(sampler.grid.slice(0, 5));
    expect(seen.map((e) => e.tNext)).toEqual(sampler.grid.slice(1));
    // Heun: 2 calls per step, the last step (to sigma = 0) is Euler: 2N - 1.
    expect(seen.map((e) => e.nfe)).toEqual([2, 4, 6, 8, 9]);
    expect(rec.times.length).toBe(9);
    expect(seen[0].shape).toEqual([2, 3]);
    out.dispose();
  });

  it('the generator result equals sample(...) and no state leaks between calls (same seed, same result)', () => {
    const sampler = ucgmSampler({ transport: linearTransport(), steps: 4, stochasticity: 'auto', extrapolation: 0.4 });
    const net = ucgmGaussModel(linearTransport(), [0.2], 0.7);
    const a = sample(sampler, { network: net, shape: [3, 2, 2, 1], noise: seededNoise(5) });
    let last: tf.Tensor | undefined;
    for (const ev of sampleSteps(sampler, { network: net, shape: [3, 2, 2, 1], noise: seededNoise(5) })) {
      last?.dispose();
      last = ev.sample();
    }
    const b = sample(sampler, { network: net, shape: [3, 2, 2, 1], noise: seededNoise(5) });
    expect(Array.from(last!.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, last!]);
  });
});

describe('sampleSteps: tensor ownership', () => {
  it("disposes an event's tensors when the next step runs, unless kept", async () => {
    await expectNoLeak(() => {
      const events: { x: tf.Tensor; xHat: tf.Tensor; zHat: tf.Tensor }[] = [];
      const kept: { x: tf.Tensor; xHat: tf.Tensor; zHat: tf.Tensor }[] = [];
      let final: tf.Tensor | undefined;
      for (const ev of sampleSteps(edmSampler({ steps: 4 }), { network: denoiser, shape: [2, 2], noise: seededNoise(0) })) {
        events.push({ x: ev.x, xHat: ev.xHat, zHat: ev.zHat });
        if (ev.index === 1) kept.push(ev.keep());
        if (ev.index === 3) final = ev.sample();
      }
      // Every event's own tensors are gone once the run is over...
      for (const e of events) expect([e.x.isDisposed, e.xHat.isDisposed, e.zHat.isDisposed]).toEqual([true, true, true]);
      // ...the kept handles are alive and readable, and the result belongs to the caller.
      expect(kept[0].x.isDisposed).toBe(false);
      expect(kept[0].xHat.dataSync().length).toBe(4);
      expect(final!.isDisposed).toBe(false);
      return [final!, kept[0]];
    });
  });

  it('an event is readable until the next step, then released', () => {
    const it = sampleSteps(edmSampler({ steps: 3 }), { network: denoiser, shape: [1, 2] });
    const first = it.next();
    if (first.done) throw new Error('no steps');
    expect(first.value.x.isDisposed).toBe(false);
    const { xHat } = first.value;
    const second = it.next();
    expect(xHat.isDisposed).toBe(true);
    it.return();
    expect(second.done).toBe(false);
  });

  it('a plain for...of loop and stopping early with break leak nothing', async () => {
    await expectNoLeak(() => {
      for (const ev of sampleSteps(edmSampler({ steps: 3 }), { network: denoiser, shape: [2, 2] })) void ev;
    });
    await expectNoLeak(() => {
      for (const ev of sampleSteps(edmSampler({ steps: 10 }), { network: denoiser, shape: [2, 2] })) {
        if (ev.index === 3) break;
      }
    });
  });

  it('50 repeated sampling runs leak no tensors', () => {
    const before = tf.memory().numTensors;
    const sampler = ucgmSampler({ transport: linearTransport(), steps: 4, order: 2, extrapolation: 0.5, stochasticity: 0.3 });
    const net = ucgmGaussModel(linearTransport(), [0.1], 0.5);
    const latents = tf.randomNormal([2, 2, 2, 1], 0, 1, 'float32', 3);
    for (let i = 0; i < 50; i++) sample(sampler, { network: net, latents, noise: seededNoise(i) }).dispose();
    latents.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('sampleSteps: AbortSignal and non-finite values', () => {
  it('aborting stops before the next step, throws the reason and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const indices: number[] = [];
    expect(() => {
      for (const ev of sampleSteps(edmSampler({ steps: 8 }), { network: denoiser, shape: [2, 2], signal: ctrl.signal })) {
        indices.push(ev.index);
        if (ev.index === 2) ctrl.abort(new Error('user cancelled'));
      }
    }).toThrow('user cancelled');
    expect(indices).toEqual([0, 1, 2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sample(edmSampler({ steps: 2 }), { network: denoiser, shape: [1, 1], signal: ctrl.signal })).toThrow('user cancelled');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a NaN appearing mid-sampling reports the step index', () => {
    const before = tf.memory().numTensors;
    const sigmas = karrasSigmas(6);
    // Goes bad below sigma = sigmas[3]: the step with index 3 is the first to produce NaN.
    const bad: Network = (x, s) => tf.tidy(() => (s.dataSync()[0] < sigmas[2] * 0.999 ? tf.mul(x, NaN) : denoiser(x, s)));
    const run = () => sample(kdiffusionSampler('euler', { sigmas }), { network: bad, shape: [1, 2] });
    expect(run).toThrow(FewstepError);
    expect(run).toThrow(/at step 3 \(t = /);
    expect(tf.memory().numTensors).toBe(before);
    // With checkFinite off the NaN flows through to the result.
    const out = sample(kdiffusionSampler('euler', { sigmas }), { network: bad, shape: [1, 2], checkFinite: false });
    expect(Number.isNaN(out.dataSync()[0])).toBe(true);
    out.dispose();
  });
});

describe('bad input raises FewstepError', () => {
  const rule = churnStep('euler');
  const sigma = sigmaTransport();
  it('grid not decreasing, fewer than 1 step, outside the transport range', () => {
    expect(() => defineSampler({ name: 'x', transport: sigma, grid: [1, 2, 0], rule })).toThrow(/grid\[1\] must be strictly decreasing/);
    expect(() => defineSampler({ name: 'x', transport: sigma, grid: [1], rule })).toThrow(/grid must be an array of at least 2/);
    expect(() => defineSampler({ name: 'x', transport: linearTransport(), grid: [1.5, 0], rule })).toThrow(FewstepError);
    expect(() => kdiffusionSampler('euler', { sigmas: [0, 1] })).toThrow(/strictly decreasing/);
    expect(() => edmSampler({ steps: 0 })).toThrow(/steps must be an integer >= 1/);
    expect(() => ucgmSampler({ transport: linearTransport(), steps: 0 })).toThrow(/steps must be an integer >= 1/);
  });

  it('bad step-rule options', () => {
    expect(() => churnStep('euler', { sChurn: 1, draws: 'none' })).toThrow(/draws must be "every-step" when sChurn > 0/);
    expect(() => churnStep('rk4' as never)).toThrow(/solver must be one of/);
    expect(() => ucgmSampler({ transport: linearTransport(), stochasticity: 1.5 })).toThrow(/stochasticity/);
    expect(() => ucgmSampler({ transport: linearTransport(), order: 3 as never })).toThrow(/order/);
    expect(() => defineSampler({ name: 'x', transport: sigma, grid: [1, 0], rule: {} as never })).toThrow(/rule must be a StepRule/);
  });

  it('bad run options', () => {
    const s = edmSampler({ steps: 2 });
    expect(() => sample(s, { shape: [1, 2] })).toThrow(/network must be a network function/);
    expect(() => sample(s, { network: denoiser })).toThrow(/exactly one of latents, x or shape/);
    const z = tf.zeros([1, 2]);
    expect(() => sample(s, { network: denoiser, latents: z, x: z })).toThrow(/exactly one of/);
    z.dispose();
    expect(() => sample(s, { network: denoiser, shape: [0, 2] })).toThrow(/shape\[0\]/);
    const wrong = createPredictor({ network: denoiser, transport: linearTransport() });
    expect(() => sample(s, { predictor: wrong, shape: [1, 2] })).toThrow(/transport "sigma"/);
  });
});

describe('clean variants of reference quirks', () => {
  it("UCGM 'auto' stochasticity: the reference reuses the first step's value; autoEvery 'every-step' recomputes it", () => {
    const T = linearTransport();
    const net = ucgmGaussModel(T, [0.1], 0.5);
    const run = (autoEvery: 'first-step' | 'every-step') =>
      sample(ucgmSampler({ transport: T, steps: 6, stochasticity: 'auto', autoEvery, kumaraswamy: [1.17, 0.8, 1.1] }), {
        network: net,
        shape: [2, 2],
        noise: seededNoise(4),
      });
    const a = run('first-step');
    const b = run('every-step');
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
  });

  it("EDM draws: 'every-step' (reference) vs 'when-churning' (no draw where gamma = 0) give the same deterministic run", () => {
    const draws: number[] = [];
    const counting = (n: ReturnType<typeof seededNoise>) => ({ ...n, normal: (s: number[]) => (draws.push(1), n.normal(s)) });
    const latents = tf.ones([1, 2]);
    const a = sample(edmSampler({ steps: 5 }), { network: denoiser, latents, noise: counting(seededNoise(1)) });
    expect(draws.length).toBe(5);
    const b = sample(edmSampler({ steps: 5, draws: 'when-churning' }), { network: denoiser, latents, noise: counting(seededNoise(1)) });
    expect(draws.length).toBe(5);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, latents]);
  });
});
