import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { edmPreconditioning, precondition } from '@fewstep/core';
import { MLP } from '@fewstep/nn';

beforeAll(async () => {
  await useTestBackend();
});

/** Four Gaussian blobs at (±1, ±1) with std 0.1: a standard 2-D toy distribution. */
function blobs(n: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const idx = tf.randomUniform([n], 0, 4, 'int32', seed);
    const centers = tf.tensor2d([[1, 1], [1, -1], [-1, 1], [-1, -1]]);
    return tf.gather(centers, idx).add(tf.randomNormal([n, 2], 0, 0.1, 'float32', seed + 1)) as tf.Tensor2D;
  });
}

describe('MLP', () => {
  it('maps [B, D] and [B] (or a scalar t) to [B, D] without leaks', async () => {
    const net = new MLP({ dim: 2, hiddenChannels: 16, numLayers: 2 });
    const x = tf.zeros([3, 2]);
    const t = tf.scalar(0.5);
    await expectNoLeak(() => {
      const y = net.forward(x, t);
      expect(y.shape).toEqual([3, 2]);
      return y;
    });
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'map_layer0.weight', 'map_layer0.bias', 'in_proj.weight', 'in_proj.bias', 'layers.0.weight', 'layers.0.bias',
      'out_proj.weight', 'out_proj.bias',
    ]);
    tf.dispose([x, t]);
    net.dispose();
  });

  it('validates its configuration and inputs', () => {
    expect(() => new MLP({ dim: 0 })).toThrow(/MLP: dim must be an integer >= 1/);
    expect(() => new MLP({ dim: 2, embeddingChannels: 7 })).toThrow(/embeddingChannels must be an even number/);
    expect(() => new MLP({ dim: 2, dropout: 1 })).toThrow(/dropout must be a number >= 0 and < 1/);
    const net = new MLP({ dim: 2, hiddenChannels: 8 });
    const x = tf.zeros([3, 3]);
    const t = tf.zeros([2]);
    const x2 = tf.zeros([3, 2]);
    expect(() => net.forward(x, t)).toThrow(/MLP.forward: x must be a tensor of shape \[\*, 2\]/);
    expect(() => net.forward(x2, t)).toThrow(/t must be a scalar or a tensor of shape \[3\]/);
    expect(() => net.forward(x2, tf.zeros([3]), { classLabels: tf.zeros([3, 2]) })).toThrow(/classLabels must be undefined/);
    tf.dispose([x, t, x2]);
    net.dispose();
  });

  it('class conditioning accepts int32 indices and one-hot rows alike', () => {
    const net = new MLP({ dim: 2, hiddenChannels: 8, labelDim: 3 });
    tf.tidy(() => {
      const x = tf.ones([2, 2]);
      const t = tf.tensor1d([0.1, 0.2]);
      const a = net.forward(x, t, { classLabels: tf.tensor1d([0, 2], 'int32') });
      const b = net.forward(x, t, { classLabels: tf.tensor2d([[1, 0, 0], [0, 0, 1]]) });
      expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBe(0);
    });
    net.dispose();
  });

  it('trains: the EDM denoising loss on 2-D blobs drops within a few seconds on cpu', () => {
    const net = new MLP({ dim: 2, hiddenChannels: 32, numLayers: 3, seed: 3 });
    const D = precondition(net.forward, edmPreconditioning());
    const opt = tf.train.adam(1e-2);
    // A fixed evaluation batch: the same data, noise levels and noise before and after training.
    const evalX = blobs(512, 100);
    const evalSigma = tf.tidy(() => tf.randomNormal([512], -1.2, 1.2, 'float32', 101).exp());
    const evalNoise = tf.randomNormal([512, 2], 0, 1, 'float32', 102);
    const lossOn = (x: tf.Tensor, sigma: tf.Tensor, noise: tf.Tensor): tf.Scalar =>
      tf.tidy(() => {
        const s = sigma.reshape([-1, 1]);
        const weight = s.square().add(0.25).div(s.square().mul(0.25));
        const denoised = D(x.add(noise.mul(s)), sigma);
        return denoised.sub(x).square().mul(weight).mean() as tf.Scalar;
      });
    const evalLoss = () => tf.tidy(() => lossOn(evalX, evalSigma, evalNoise).dataSync()[0]);
    const before = evalLoss();
    const start = Date.now();
    for (let step = 0; step < 100; step++) {
      tf.tidy(() => {
        const x = blobs(128, 1000 + step);
        const sigma = tf.randomNormal([128], -1.2, 1.2, 'float32', 5000 + step).exp();
        const noise = tf.randomNormal([128, 2], 0, 1, 'float32', 9000 + step);
        opt.minimize(() => lossOn(x, sigma, noise), false, net.trainableParameters());
      });
    }
    const seconds = (Date.now() - start) / 1000;
    const after = evalLoss();
    expect(after).toBeLessThan(0.7 * before);
    expect(seconds).toBeLessThan(30);
    tf.dispose([evalX, evalSigma, evalNoise]);
    opt.dispose();
    net.dispose();
    console.log(`MLP toy training: loss ${before.toFixed(4)} -> ${after.toFixed(4)} in 100 steps, ${seconds.toFixed(1)} s`);
  });
});
