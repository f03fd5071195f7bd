// The browser suite's cases: each builds the same computation from seeds and returns named tensors,
// so the page can run it on webgl / webgpu and on cpu and compare the numbers.
import * as tf from '@tensorflow/tfjs';
import {
  AdamW,
  ectPreconditioning,
  edmPreconditioning,
  linearTransport,
  precondition,
  recoverEstimates,
  seededNoise,
  trigFlowTransport,
  ucgmEdmTransport,
  type Network,
} from '@fewstep/core';
import { ectLoss, edmLoss } from '@fewstep/losses';
import { firUp, MLP, SongUNet } from '@fewstep/nn';
import { ectMultistepSampler, edmSampler, sample } from '@fewstep/samplers';

export interface Case {
  name: string;
  /** Largest allowed max|a - cpu| / max|cpu| for every output of the case. */
  tol: number;
  /** Builds from seeds and returns named outputs (the caller reads them with `await data()` and disposes them). */
  run(): Record<string, tf.Tensor>;
  /** An async case (awaits reads): used instead of `run`, which then only throws. Owns its cleanup. */
  runAsync?(): Promise<Record<string, tf.Tensor>>;
}

/** Seeded normal draws: generated in JS (seedrandom), so identical on every backend. */
const normal = (shape: number[], seed: number, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

/** Gives every parameter seeded non-trivial values (EDM zero-initialises output layers). */
function perturb(params: [string, tf.Variable][], std: number): void {
  params.forEach(([, v], i) => v.assign(tf.tidy(() => normal(v.shape, 100 + i, std))));
}

function tinyMlp(): MLP {
  const net = new MLP({ dim: 4, hiddenChannels: 16, numLayers: 2, embeddingChannels: 8, seed: 3 });
  perturb(net.namedParameters(), 0.3);
  return net;
}

function tinyUNet(): SongUNet {
  const net = new SongUNet({
    imgResolution: 8,
    inChannels: 2,
    outChannels: 2,
    modelChannels: 8,
    channelMult: [1, 2],
    numBlocks: 1,
    attnResolutions: [4],
    seed: 5,
  });
  perturb(net.namedParameters(), 0.2);
  return net;
}

/** Transports: x_t from (x, z), a perfect native output F, and the (xHat, zHat) recovered from it. */
const transportCase: Case = {
  name: 'transports + (xHat, zHat)',
  tol: 1e-3,
  run() {
    const out: Record<string, tf.Tensor> = {};
    const x = normal([4, 6], 1);
    const z = normal([4, 6], 2);
    const t = tf.tensor1d([0.1, 0.35, 0.6, 0.9]);
    const col = (c: tf.Tensor) => c.reshape([4, 1]);
    for (const tr of [linearTransport(), trigFlowTransport(), ucgmEdmTransport()]) {
      const xt = tf.add(tf.mul(col(tr.alphaIn(t)), z), tf.mul(col(tr.gammaIn(t)), x));
      const F = tf.add(tf.mul(col(tr.alphaTo(t)), z), tf.mul(col(tr.gammaTo(t)), x));
      const { xHat, zHat } = recoverEstimates(tr, 'native', xt, F, t);
      Object.assign(out, { [`${tr.name}.xt`]: xt, [`${tr.name}.xHat`]: xHat, [`${tr.name}.zHat`]: zHat });
      // Recovery itself (not only agreement with cpu): xHat = x and zHat = z.
      out[`${tr.name}.xHat-x`] = tf.sub(xHat, x);
    }
    return out;
  },
};

/**
 * Rank-5 pads (nn's zero insertion for EDM's FIR up-sampling) and their gradient: the stock webgl
 * shader does not compile and the stock webgpu one returns garbage; @fewstep/backends' PadV2 fixes both.
 */
const padCase: Case = {
  name: 'rank-5 pad + firUp + gradient',
  tol: 1e-3,
  run() {
    const x = normal([2, 3, 4, 5, 3], 29);
    const pad5 = tf.pad(x, [[0, 0], [1, 0], [0, 1], [0, 0], [2, 1]]);
    const filter = tf.tensor2d([1, 3, 3, 1, 3, 9, 9, 3, 3, 9, 9, 3, 1, 3, 3, 1], [4, 4]).div(64) as tf.Tensor2D;
    const img = normal([2, 4, 4, 3], 31) as tf.Tensor4D;
    const up = firUp(img, filter, 1);
    const dImg = tf.grad((v: tf.Tensor) => tf.sum(tf.square(firUp(v as tf.Tensor4D, filter, 1))))(img);
    return { pad5, up, dImg };
  },
};

/** EDM loss of an EDM-preconditioned MLP and its gradient with respect to every parameter. */
const lossCase: Case = {
  name: 'edmLoss + gradients (MLP)',
  tol: 1e-3,
  run() {
    const net = tinyMlp();
    const D = precondition(net.forward, edmPreconditioning());
    const x = normal([8, 4], 7, 0.5);
    const loss = edmLoss();
    const { value, grads } = tf.variableGrads(
      () => loss.compute({ network: D, x, noise: seededNoise(11) }).loss,
      net.trainableParameters(),
    );
    const out: Record<string, tf.Tensor> = { loss: value };
    const names = new Map(net.namedParameters().map(([n, v]) => [v.name, n]));
    for (const [id, g] of Object.entries(grads)) out[`grad ${names.get(id)}`] = g;
    net.dispose();
    return out;
  },
};

/** EDM's Heun sampler, 3 steps with churn (one noise draw per step), on the MLP denoiser. */
const samplerCase: Case = {
  name: 'edmSampler heun 3 steps (MLP)',
  tol: 1e-3,
  run() {
    const net = tinyMlp();
    const D: Network = precondition(net.forward, edmPreconditioning());
    const s = sample(edmSampler({ steps: 3, sChurn: 1 }), { network: D, shape: [6, 4], noise: seededNoise(13) });
    net.dispose();
    return { sample: s };
  },
};

/**
 * ECT: the consistency loss (target without gradient, pseudo-Huber) and its gradient, then ECT's
 * two-step sampler, on an ECT-preconditioned MLP.
 */
const ectCase: Case = {
  name: 'ectLoss + gradients, ectMultistepSampler (MLP)',
  tol: 1e-3,
  run() {
    const net = tinyMlp();
    const fTrain = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
    const x = normal([8, 4], 37, 0.5);
    const loss = ectLoss({ stage: 3, c: 0.03 });
    const { value, grads } = tf.variableGrads(
      () => loss.compute({ network: fTrain, x, noise: seededNoise(41), step: 0 }).loss,
      net.trainableParameters(),
    );
    const out: Record<string, tf.Tensor> = { loss: value };
    const names = new Map(net.namedParameters().map(([n, v]) => [v.name, n]));
    for (const [id, g] of Object.entries(grads)) out[`grad ${names.get(id)}`] = g;
    const fEval = precondition(net.forward, ectPreconditioning({ mode: 'eval' }));
    out.sample = sample(ectMultistepSampler({ tMax: 10, midT: [0.821] }), { network: fEval, shape: [6, 4], noise: seededNoise(43) });
    net.dispose();
    return out;
  },
};

/** A SongUNet forward with GroupNorm, attention at 4x4 and down/up sampling. */
const forwardCase: Case = {
  name: 'SongUNet forward (8x8, attention)',
  tol: 1e-3,
  run() {
    const net = tinyUNet();
    const y = net.forward(normal([2, 8, 8, 2], 17), tf.tensor1d([0.3, -0.7]));
    net.dispose();
    return { output: y };
  },
};

/** One AdamW step of the SongUNet on edmLoss: loss, gradients' norm, the parameters after, the loss after. */
const trainCase: Case = {
  name: 'AdamW step SongUNet + edmLoss',
  tol: 1e-3,
  run() {
    const net = tinyUNet();
    const D = precondition(net.forward, edmPreconditioning());
    const x = normal([2, 8, 8, 2], 19, 0.5);
    const loss = edmLoss();
    const lossFn = () => loss.compute({ network: D, x, noise: seededNoise(23) }).loss;
    const params = net.trainableParameters();
    const { value, grads } = tf.variableGrads(lossFn, params);
    const gradNorm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    // A small rate: Adam's first step moves every parameter by about lr * sign(g).
    const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0 });
    opt.applyGradients(grads);
    const after = tf.concat(params.map((p) => p.reshape([-1])));
    const lossAfter = lossFn();
    const out = { loss: value, gradNorm, params: after, lossAfter };
    tf.dispose(Object.values(grads));
    opt.dispose();
    net.dispose();
    return out;
  },
};

export const CASES: Case[] = [transportCase, padCase, lossCase, samplerCase, ectCase, forwardCase, trainCase];
