/**
 * Matryoshka Diffusion on MNIST, trained progressively on the CPU with the wasm backend:
 *   stage 1: a 14x14 UNet alone (the inner network),
 *   stage 2: a 28/14 NestedUNet whose inner network starts from stage 1's weights.
 * Writes PNG grids of samples at both resolutions and the loss curves to examples/mdm-mnist/out/.
 * Run: `npm run example:mdm-mnist` (MDM_MNIST_QUICK=1 for a smoke run of a few steps).
 */
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@fewstep/backends';
import { AdamW, clipByGlobalNorm, seededNoise, warmupLr } from '@fewstep/core';
import { loadMnist, mnistImagesTensor, batchIndices } from '@fewstep/data';
import { imageGridPng, lineChartPng, writeOutput } from '@fewstep/eval';
import {
  NestedSchedule,
  NestedUNet,
  ProgressiveSchedule,
  UNet,
  initializeInner,
  nestedLoss,
  nestedSampleAll,
  type NestedUNetConfig,
  type UNetConfig,
} from '@fewstep/mdm';

const QUICK = process.env.MDM_MNIST_QUICK === '1';
const STEPS_1 = Number(process.env.MDM_MNIST_STEPS1 ?? (QUICK ? 3 : 400));
const STEPS_2 = Number(process.env.MDM_MNIST_STEPS2 ?? (QUICK ? 3 : 300));
const BATCH = Number(process.env.MDM_MNIST_BATCH ?? 16);
const OUT = new URL('./out/', import.meta.url).pathname;

// The inner network: 14 px and 7 px levels; its middle blocks (ResNet + attention, ResNet) run at 7 px.
const INNER: UNetConfig = {
  resolutionChannels: [16, 32],
  numResnetsPerResolution: 1,
  attentionLevels: [],
  numGroupsNorm: 8,
  attentionGroups: 8,
  numHeads: 4,
  temporalDim: 32,
};
// The outer network at 28 px (28 and 14 px levels), no middle blocks: the inner network sits there.
const NESTED: NestedUNetConfig = { resolutionChannels: [8, 16], numResnetsPerResolution: 1, attentionLevels: [], numGroupsNorm: 4, temporalDim: 32, inner: INNER };

const progressive = new ProgressiveSchedule([
  { sides: [14], steps: STEPS_1 },
  { sides: [28, 14], steps: STEPS_2 },
]);

function makeLoss(stage: number) {
  // Resolution-shifted schedule (power 1), v-prediction with epsilon targets as in the released configs.
  const schedule = new NestedSchedule({ type: 'cosine', steps: 1000, scales: progressive.scales(stage), shifted: true, power: 1 });
  return { schedule, loss: nestedLoss({ schedule, prediction: 'v', lossTarget: 'eps', weights: stage === 0 ? undefined : [1, 1], mixedRatio: stage === 0 ? undefined : '1:1' }) };
}

interface Curve {
  step: number[];
  loss: number[];
}

function train(net: UNet, stage: number, data: ReturnType<typeof loadMnist>, curve: Curve, startStep: number): number {
  const { loss } = makeLoss(stage);
  const side = progressive.stages[stage].sides[0];
  const steps = progressive.stages[stage].steps;
  const opt = new AdamW({ learningRate: 2e-3, weightDecay: 0 });
  const lr = warmupLr(2e-3, 100);
  const noise = seededNoise(1000 + stage);
  const params = net.trainableParameters();
  const t0 = performance.now();
  let i = 0;
  for (const b of batchIndices(data.count, { batchSize: BATCH, shuffle: true, seed: stage, epochs: Infinity, dropLast: true })) {
    if (i >= steps) break;
    const step = startStep + i;
    const value = tf.tidy(() => {
      const full = mnistImagesTensor(data, b.indices, { range: 'signed' });
      const x = side === 28 ? full : (tf.avgPool(full, 2, 2, 'valid') as tf.Tensor4D);
      const { value: l, grads } = tf.variableGrads(() => loss.compute({ network: net.asNetwork(), x, noise, step, networkOptions: { train: true } }).loss, params);
      const { grads: clipped } = clipByGlobalNorm(grads, 1); // its norm tensor is freed by this tidy
      opt.learningRate = lr(i);
      opt.applyGradients(clipped);
      return l;
    });
    const v = value.dataSync()[0];
    value.dispose();
    curve.step.push(step);
    curve.loss.push(v);
    if (i % 50 === 0 || i === steps - 1) {
      const sec = (performance.now() - t0) / 1000;
      console.log(`stage ${stage} (${progressive.stages[stage].sides.join('/')} px) step ${i + 1}/${steps} loss ${v.toFixed(4)} ${((i + 1) / sec).toFixed(2)} it/s tensors ${tf.memory().numTensors}`);
    }
    i++;
  }
  opt.dispose();
  return (performance.now() - t0) / 1000;
}

function smooth(y: number[], k = 25): number[] {
  return y.map((_, i) => {
    const a = y.slice(Math.max(0, i - k + 1), i + 1);
    return a.reduce((s, v) => s + v, 0) / a.length;
  });
}

async function main(): Promise<void> {
  const report = await initBackend('wasm');
  console.log(`backend ${report.backend} (${report.reason}); kernels: ${report.kernelsRegistered.join(', ')}`);
  const data = loadMnist({ split: 'train', limit: QUICK ? 512 : 60000 });
  const tStart = performance.now();
  const curves: Curve[] = [
    { step: [], loss: [] },
    { step: [], loss: [] },
  ];

  // Stage 1: the 14 px UNet alone.
  const small = new UNet(1, 1, INNER, { seed: 1 });
  const sec1 = train(small, 0, data, curves[0], 0);

  // Stage 2: grow to 28/14; the inner network starts from stage 1's weights.
  const nested = new NestedUNet(1, 1, NESTED, { seed: 2 });
  initializeInner(nested, small);
  small.dispose();
  const sec2 = train(nested, 1, data, curves[1], STEPS_1);

  // Sample both resolutions at once: DDIM (eta 0), 50 resampled steps.
  const { schedule } = makeLoss(1);
  const tSample = performance.now();
  const [hi, lo] = nestedSampleAll(nested.asNetwork(), { schedule, prediction: 'v', steps: QUICK ? 5 : 50, eta: 0 }, { shape: [QUICK ? 4 : 36, 28, 28, 1], noise: seededNoise(7) });
  const secSample = (performance.now() - tSample) / 1000;
  writeOutput(`${OUT}samples_28.png`, imageGridPng(tf.clipByValue(hi, -1, 1) as tf.Tensor4D, { cols: 6 }));
  writeOutput(`${OUT}samples_14.png`, imageGridPng(tf.clipByValue(lo, -1, 1) as tf.Tensor4D, { cols: 6 }));
  tf.dispose([hi, lo]);
  const real = mnistImagesTensor(data, Array.from({ length: 36 }, (_, i) => i), { range: 'signed' });
  writeOutput(`${OUT}real_28.png`, imageGridPng(real, { cols: 6 }));
  real.dispose();
  writeOutput(
    `${OUT}loss.png`,
    lineChartPng(
      [
        { name: 'stage 1: 14 px UNet', x: curves[0].step, y: smooth(curves[0].loss) },
        { name: 'stage 2: 28/14 nested', x: curves[1].step, y: smooth(curves[1].loss) },
      ],
      { title: 'MDM on MNIST: training loss (moving average of 25 steps)', xLabel: 'step', yLabel: 'loss', logY: true },
    ),
  );
  const total = (performance.now() - tStart) / 1000;
  const summary = {
    backend: report.backend,
    steps: [STEPS_1, STEPS_2],
    batch: BATCH,
    parameters: { stage1: new UNet(1, 1, INNER).numParameters(), stage2: nested.numParameters() },
    seconds: { stage1: +sec1.toFixed(1), stage2: +sec2.toFixed(1), sampling36x50steps: +secSample.toFixed(1), total: +total.toFixed(1) },
    finalLoss: { stage1: +smooth(curves[0].loss).at(-1)!.toFixed(4), stage2: +smooth(curves[1].loss).at(-1)!.toFixed(4) },
  };
  writeOutput(`${OUT}summary.json`, JSON.stringify(summary, null, 2));
  console.log(JSON.stringify(summary, null, 2));
  nested.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
