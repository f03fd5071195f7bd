// Compose samplers from a grid, a step rule and a modifier, and judge them against the true
// distribution (eight Gaussians, exact denoiser). Run: npx tsx examples/custom-sampler/main.ts
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@fewstep/backends';
import { seededNoise } from '@fewstep/core';
import { sampleToyArray } from '@fewstep/data';
import { mmdUnbiased, slicedWasserstein } from '@fewstep/eval';
import { edmSampler, sampleSteps } from '@fewstep/samplers';
import { composedSamplers, mixtureDenoiser, eightGaussiansMeans } from './custom-sampler';

await initBackend('cpu');
const n = 1000;
const network = mixtureDenoiser(eightGaussiansMeans(), 0.1);
const data = { data: sampleToyArray('eightGaussians', n, { seed: 1 }), dim: 2 };
const samplers = { edmHeun: edmSampler({ steps: 6 }), ...composedSamplers(6) };
console.log(`eight Gaussians, exact denoiser, ${n} samples, 6 grid steps (lower is better):`);
for (const [name, sampler] of Object.entries(samplers)) {
  // The generator form: one event per step (progress, early stop, intermediates).
  let nfe = 0;
  let x: tf.Tensor | undefined;
  for (const event of sampleSteps(sampler, { network, shape: [n, 2], noise: seededNoise(0) })) {
    nfe = event.nfe;
    if (event.index === event.steps - 1) x = event.sample(); // the final sample, owned by us
  }
  if (!x) throw new Error('the sampler made no steps');
  const points = { data: x.dataSync() as Float32Array, dim: 2 };
  const mmd = mmdUnbiased(points, data, { bandwidth: [0.05, 0.2, 0.8] });
  const sw = slicedWasserstein(points, data, { projections: 128 });
  console.log(`  ${name.padEnd(22)} NFE ${String(nfe).padStart(2)}  MMD ${mmd.toFixed(5)}  sliced W2^2 ${sw.toFixed(5)}`);
  x.dispose();
}
console.log(`tensors alive at the end: ${tf.memory().numTensors} (the mixture means only)`);
