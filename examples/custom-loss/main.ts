// Train the same 2-D denoiser with EDM's loss and with the custom Min-SNR loss (same steps, same
// noise), then compare 18-step Heun samples. Run: npx tsx examples/custom-loss/main.ts
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@fewstep/backends';
import { AdamW, edmPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { sampleToyArray } from '@fewstep/data';
import { mmdUnbiased, slicedWasserstein } from '@fewstep/eval';
import { edmLoss, type Loss } from '@fewstep/losses';
import { MLP } from '@fewstep/nn';
import { edmSampler, sample } from '@fewstep/samplers';
import { minSnrLoss } from './min-snr-loss';

const steps = Number(process.argv[2] ?? 800);
const report = await initBackend('wasm');
const sigmaData = 1.4; // eight Gaussians on a circle of radius 2: per-coordinate std ~ 1.42
const data = (n: number, seed: number) => sampleToyArray('eightGaussians', n, { seed });

function trainWith(loss: Loss): { net: MLP; seconds: number; last: number } {
  const net = new MLP({ dim: 2, hiddenChannels: 128, numLayers: 3, embeddingType: 'fourier', seed: 0 });
  const D = precondition(net.forward, edmPreconditioning({ sigmaData }));
  const opt = new AdamW({ learningRate: 2e-3, weightDecay: 0 });
  const noise = seededNoise(1);
  const t0 = performance.now();
  let last = 0;
  for (let step = 0; step < steps; step++) {
    const x = tf.tensor2d(data(256, 100 + step), [256, 2]);
    const value = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss.compute({ network: D, x, noise, step }).loss, net.trainableParameters());
      opt.applyGradients(grads);
      return value;
    });
    last = value.dataSync()[0];
    tf.dispose([x, value]);
  }
  opt.dispose();
  return { net, seconds: (performance.now() - t0) / 1000, last };
}

console.log(`backend ${report.backend}; ${steps} steps per loss, batch 256, eight Gaussians`);
const fresh = { data: data(1000, 7), dim: 2 };
for (const loss of [edmLoss({ sigmaData }), minSnrLoss({ sigmaData, gamma: 5 })]) {
  const { net, seconds, last } = trainWith(loss);
  const x = sample(edmSampler({ steps: 18 }), { network: precondition(net.forward, edmPreconditioning({ sigmaData })), shape: [1000, 2], noise: seededNoise(3) });
  const points = { data: x.dataSync() as Float32Array, dim: 2 };
  const mmd = mmdUnbiased(points, fresh, { bandwidth: [0.05, 0.2, 0.8] });
  const sw = slicedWasserstein(points, fresh, { projections: 128 });
  console.log(`  ${loss.name.padEnd(8)} final loss ${last.toFixed(4)}  Heun-18 samples: MMD ${mmd.toFixed(5)}, sliced W2^2 ${sw.toFixed(5)}  (${seconds.toFixed(1)} s)`);
  x.dispose();
  net.dispose();
}
