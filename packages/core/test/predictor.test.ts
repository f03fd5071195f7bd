import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createPredictor,
  eulerStep,
  heunStep,
  linearTransport,
  meanOverNonBatch,
  mixAt,
  odeDerivative,
  perSample,
  sigmaTransport,
  sumOverNonBatch,
  toPerSample,
  transportStep,
  type Denoiser,
  type Network,
} from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

// Gaussian data N(mu, s^2): the exact denoiser and the exact PF-ODE solution in sigma space.
const mu = 0.3;
const s = 0.5;
const gaussianDenoiser: Denoiser = (x, sigma) =>
  tf.tidy(() => {
    const sig = typeof sigma === 'number' ? tf.scalar(sigma) : sigma.reshape([-1, ...new Array(x.rank - 1).fill(1)]);
    return tf.add(mu, tf.mul(tf.sub(x, mu), tf.div(s * s, tf.add(tf.square(sig), s * s))));
  });
const exactFlow = (x: number, from: number, to: number) => mu + (x - mu) * Math.sqrt((s * s + to * to) / (s * s + from * from));

describe('Predictor', () => {
  it('passes one time per sample to the network and recovers (xHat, zHat)', async () => {
    const seen: number[][] = [];
    const xPredictingNet: Network = (x, t) => {
      seen.push(t.shape);
      return gaussianDenoiser(x, t);
    };
    const p = createPredictor({ network: xPredictingNet, transport: sigmaTransport(), parameterisation: 'x0' });
    await expectNoLeak(() => {
      const x = tf.fill([3, 2, 2, 1], 1.3);
      const out = p.predict(x, 2);
      expect(seen[0]).toEqual([3]);
      const want = mu + (1.3 - mu) * (s * s) / (s * s + 4);
      expect(out.xHat.dataSync()[0]).toBeCloseTo(want, 5);
      expect(out.zHat.dataSync()[0]).toBeCloseTo((1.3 - want) / 2, 5);
      return [x, out];
    });
  });

  it('rejects bad input', () => {
    const net: Network = (x) => x;
    expect(() => createPredictor({ network: 3 as never, transport: linearTransport() })).toThrow(/network must be a function/);
    expect(() => createPredictor({ network: net, transport: {} as never })).toThrow(/transport must be a Transport/);
    const p = createPredictor({ network: net, transport: linearTransport() });
    expect(() => p.predict(tf.ones([2, 1]), 2)).toThrow(/t must be a time in \[0, 1\]/);
    expect(() => p.predict(tf.ones([2, 1]), tf.ones([3]))).toThrow(/t must be a number or a tensor of shape \[2\]/);
    const bad = createPredictor({ network: () => tf.ones([1]), transport: linearTransport() });
    expect(() => bad.predict(tf.ones([2, 1]), 0.5)).toThrow(/network output must have the shape of xt/);
  });
});

describe('ODE steps', () => {
  it('Euler and Heun converge to the exact PF-ODE solution, Heun at second order', async () => {
    const x0 = 2.0;
    const errors = (step: typeof eulerStep, n: number) =>
      tf.tidy(() => {
        let x: tf.Tensor = tf.fill([1, 1], x0);
        const sig = Array.from({ length: n + 1 }, (_, i) => 10 * (1 - i / n) + 0.1 * (i / n));
        for (let i = 0; i < n; i++) x = step(gaussianDenoiser, x, sig[i], sig[i + 1]);
        return Math.abs(x.dataSync()[0] - exactFlow(x0, 10, 0.1));
      });
    const e1 = [errors(eulerStep, 20), errors(eulerStep, 40)];
    const e2 = [errors(heunStep, 20), errors(heunStep, 40)];
    expect(e1[0] / e1[1]).toBeGreaterThan(1.7); // first order: halves
    expect(e2[0] / e2[1]).toBeGreaterThan(3.3); // second order: quarters
    expect(e2[1]).toBeLessThan(e1[1] / 2);
    await expectNoLeak(() => errors(heunStep, 4));
  });

  it('per-sample sigmas, Heun falling back to Euler where sigmaNext = 0', async () => {
    await expectNoLeak(() => {
      const x = tf.tensor([[1.0], [1.0]]);
      const sig = tf.tensor([1, 1]);
      const next = tf.tensor([0.5, 0]);
      const h = heunStep(gaussianDenoiser, x, sig, next);
      const e = eulerStep(gaussianDenoiser, x, sig, next);
      expect(h.dataSync()[1]).toBeCloseTo(e.dataSync()[1], 6); // row 2 ends at 0: Euler
      expect(h.dataSync()[1]).toBeCloseTo(tf.tidy(() => gaussianDenoiser(tf.tensor([[1.0]]), 1).dataSync()[0]), 6);
      const d = odeDerivative(gaussianDenoiser, x, sig);
      return [x, sig, next, h, e, d];
    });
  });

  it('transportStep is gammaIn xHat + alphaIn zHat', async () => {
    await expectNoLeak(() => {
      const xHat = tf.fill([2, 2], 1);
      const zHat = tf.fill([2, 2], -1);
      const out = transportStep(linearTransport(), xHat, zHat, 0.25);
      expect(out.dataSync()[0]).toBeCloseTo(0.75 - 0.25, 6);
      return [xHat, zHat, out];
    });
  });

  it('rejects bad input', () => {
    const x = tf.ones([2, 1]);
    expect(() => eulerStep(gaussianDenoiser, x, 0, 1)).toThrow(/sigma must be a number > 0, got 0/);
    expect(() => heunStep(gaussianDenoiser, x, tf.ones([3]), 0)).toThrow(/sigma must be a tensor of shape \[2\]/);
    expect(() => transportStep(linearTransport(), x, tf.ones([1]), 0.5)).toThrow(/zHat must have the shape of xHat/);
    expect(() => transportStep(linearTransport(), x, x, 2)).toThrow(/tNext must be a time in \[0, 1\]/);
    x.dispose();
  });
});

describe('broadcasting helpers', () => {
  it('perSample, reductions and toPerSample leak nothing and reject bad shapes', async () => {
    await expectNoLeak(() => {
      const x = tf.ones([3, 2, 2, 1]);
      const t = tf.tensor([1, 2, 3]);
      const b = perSample(t, x);
      expect(b.shape).toEqual([3, 1, 1, 1]);
      const xb = tf.mul(x, b);
      const m = meanOverNonBatch(xb);
      expect(Array.from(m.dataSync())).toEqual([1, 2, 3]);
      const sm = sumOverNonBatch(x);
      expect(Array.from(sm.dataSync())).toEqual([4, 4, 4]);
      const tv = toPerSample(0.5, 3);
      const two = tf.scalar(2);
      const ts = toPerSample(two, 3);
      expect(Array.from(ts.dataSync())).toEqual([2, 2, 2]);
      const quarter = t.div(4);
      const xt = mixAt(linearTransport(), x, x, quarter);
      return [x, t, b, xb, m, sm, tv, two, ts, quarter, xt];
    });
    expect(() => perSample(tf.ones([2]), tf.ones([3, 1]))).toThrow(/values must be a scalar or a tensor of shape \[3\]/);
    expect(() => toPerSample(tf.ones([2]), 3)).toThrow(/t must be a number or a tensor of shape \[3\]/);
    expect(() => meanOverNonBatch(tf.scalar(1))).toThrow(/x must be a tensor of rank/);
  });
});

describe('fromLayersModel', () => {
  it('runs a two-input LayersModel as a network inside a predictor, without leaks', async () => {
    const { fromLayersModel } = await import('@fewstep/core');
    const xIn = tf.input({ shape: [4] });
    const tIn = tf.input({ shape: [1] });
    const h = tf.layers.concatenate().apply([xIn, tIn]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4, kernelInitializer: 'ones', useBias: false }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [xIn, tIn], outputs: out });
    const net = fromLayersModel(model);
    const p = createPredictor({ network: net, transport: linearTransport(), parameterisation: 'flow' });
    await expectNoLeak(() => {
      const x = tf.ones([2, 4]);
      const r = p.predict(x, 0.5);
      // every output unit = sum(x) + t = 4.5
      expect(Array.from(r.output.dataSync())).toEqual(new Array(8).fill(4.5));
      return [x, r];
    });
    expect(() => fromLayersModel({} as never)).toThrow(/model must be a tf.LayersModel/);
    expect(() => fromLayersModel(model, { inputs: 'x' })).toThrow(/a model with 1 input\(s\)/);
    model.dispose();
  });
});
