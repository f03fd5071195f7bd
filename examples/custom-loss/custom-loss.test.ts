import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, FewstepError, edmPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { sampleToyArray } from '@fewstep/data';
import { edmLoss } from '@fewstep/losses';
import { MLP } from '@fewstep/nn';
import { useTestBackend } from '@fewstep/testing';
import { minSnrLoss } from './min-snr-loss';

beforeAll(async () => {
  await useTestBackend();
});

const sigmaData = 1.4;
const makeNet = () => new MLP({ dim: 2, hiddenChannels: 32, numLayers: 2, embeddingType: 'fourier', seed: 0 });

describe('custom loss example: Min-SNR in sigma space', () => {
  it('equals a hand computation from the same noise draws', () => {
    const net = makeNet();
    const D = precondition(net.forward, edmPreconditioning({ sigmaData }));
    const x = tf.tensor2d(sampleToyArray('eightGaussians', 16, { seed: 2 }), [16, 2]);
    const out = minSnrLoss({ sigmaData, gamma: 5 }).compute({ network: D, x, noise: seededNoise(5) });
    // By hand: the same source draws n [B] then eps like x.
    const noise = seededNoise(5);
    const n = noise.normal([16]).dataSync();
    const eps = noise.normal([16, 2]);
    const sigma = Array.from(n, (v) => Math.exp(-1.2 + 1.2 * v));
    const xNoisy = tf.add(x, tf.mul(eps, tf.tensor2d(sigma, [16, 1])));
    const den = D(xNoisy, tf.tensor1d(sigma)).dataSync();
    const xs = x.dataSync();
    const expected = sigma.map((s, i) => {
      const w = Math.min((sigmaData * sigmaData) / (s * s), 5) / (sigmaData * sigmaData);
      return w * ((den[2 * i] - xs[2 * i]) ** 2 + (den[2 * i + 1] - xs[2 * i + 1]) ** 2);
    });
    const got = out.perSample.dataSync();
    expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 4));
    expect(out.loss.dataSync()[0]).toBeCloseTo(expected.reduce((a, b) => a + b) / 16, 4);
    tf.dispose([x, eps, xNoisy, out.loss, out.perSample, ...Object.values(out.stats).filter((v) => typeof v !== 'number')]);
    net.dispose();
  });

  it('weights every sample below EDM (min(1/s^2, g/sd^2) < 1/s^2 + 1/sd^2) on identical noise', () => {
    const net = makeNet();
    const D = precondition(net.forward, edmPreconditioning({ sigmaData }));
    const x = tf.tensor2d(sampleToyArray('eightGaussians', 64, { seed: 3 }), [64, 2]);
    const a = minSnrLoss({ sigmaData }).compute({ network: D, x, noise: seededNoise(9) });
    const b = edmLoss({ sigmaData }).compute({ network: D, x, noise: seededNoise(9) });
    const pa = a.perSample.dataSync();
    const pb = b.perSample.dataSync();
    pa.forEach((v, i) => expect(v).toBeLessThan(pb[i]));
    tf.dispose([x, a.loss, a.perSample, b.loss, b.perSample, ...Object.values(a.stats), ...Object.values(b.stats)].filter((v) => typeof v !== 'number') as tf.Tensor[]);
    net.dispose();
  });

  it('trains a denoiser through tf.variableGrads without leaking tensors', () => {
    const net = makeNet();
    const D = precondition(net.forward, edmPreconditioning({ sigmaData }));
    const loss = minSnrLoss({ sigmaData });
    const opt = new AdamW({ learningRate: 3e-3, weightDecay: 0 });
    // Fitting one fixed batch with fixed noise draws: plain optimisation, so the loss must fall far.
    const xe = tf.tensor2d(sampleToyArray('eightGaussians', 256, { seed: 4 }), [256, 2]);
    const evalLoss = () => tf.tidy(() => loss.compute({ network: D, x: xe, noise: seededNoise(77) }).loss.dataSync()[0]);
    const before = evalLoss();
    let afterMoments = 0;
    for (let step = 0; step < 60; step++) {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss.compute({ network: D, x: xe, noise: seededNoise(77), step }).loss, net.trainableParameters());
        opt.applyGradients(grads);
        return value;
      }).dispose();
      if (step === 0) afterMoments = tf.memory().numTensors; // the optimizer's moments appear once
    }
    const after = evalLoss();
    expect(after).toBeLessThan(0.85 * before); // measured on cpu: 0.70 -> 0.55
    expect(tf.memory().numTensors).toBe(afterMoments);
    opt.dispose();
    xe.dispose();
    net.dispose();
  });

  it('bad options and a bad context are FewstepErrors naming the argument', () => {
    expect(() => minSnrLoss({ gamma: 0 })).toThrow(FewstepError);
    expect(() => minSnrLoss({ sigmaData: -1 })).toThrow(/sigmaData/);
    const loss = minSnrLoss();
    const x = tf.zeros([0, 2]);
    expect(() => loss.compute({ network: (v) => v, x, noise: seededNoise(0) })).toThrow(/ctx\.x/);
    const y = tf.zeros([2, 2]);
    expect(() => loss.compute({ network: () => tf.zeros([2, 3]), x: y, noise: seededNoise(0) })).toThrow(/network output/);
    tf.dispose([x, y]);
  });
});
