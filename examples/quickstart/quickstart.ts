// The quickstart pipeline: 2-D data -> EDM teacher (MLP) -> ECT-tuned copy -> metrics and a plot.
// Kept as functions (main.ts is the command line) so the test can run it at a tiny size.
import * as tf from '@tensorflow/tfjs';
import { AdamW, edmPreconditioning, ectPreconditioning, precondition, seededNoise, type Network } from '@fewstep/core';
import { sampleToyArray, type ToyDistribution } from '@fewstep/data';
import { mmdUnbiased, slicedWasserstein } from '@fewstep/eval';
import { edmLoss, ectLoss, type Loss } from '@fewstep/losses';
import { MLP, saveSafetensors } from '@fewstep/nn';
import { edmSampler, ectMultistepSampler, sample, type Sampler } from '@fewstep/samplers';

export interface QuickstartOptions {
  data: ToyDistribution;
  pretrainSteps: number;
  tuneSteps: number;
  batchSize: number;
  /** Samples per method for the metrics and the plot. */
  samples: number;
  hidden: number;
  seed: number;
  /** Called with a progress line now and then. */
  log?: (line: string) => void;
}

export interface MethodResult {
  label: string;
  nfe: number;
  mmd: number;
  sw: number;
  points: Float32Array;
}

export interface QuickstartResult {
  sigmaData: number;
  pretrainSeconds: number;
  tuneSeconds: number;
  /** Fresh data against fresh data: what a perfect model would score at this sample size. */
  reference: { mmd: number; sw: number };
  methods: MethodResult[];
  data: Float32Array;
  /** The ECT model (EMA) as safetensors, PyTorch names; metadata: sigmaData, hidden. */
  ectWeights: Uint8Array;
}

/** Standard deviation of all coordinates of the data (EDM's sigma_data). */
function stdOf(x: Float32Array): number {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return Math.sqrt(s / x.length);
}

/** A plain training loop: AdamW on `loss`, an EMA copy updated after each step. */
function train(
  name: string,
  net: MLP,
  ema: MLP,
  network: Network,
  loss: Loss,
  o: QuickstartOptions & { steps: number; lr: number; emaDecay: number; dataSeed: number },
): number {
  const opt = new AdamW({ learningRate: o.lr, weightDecay: 0 });
  const noise = seededNoise(o.seed + o.dataSeed);
  const params = net.trainableParameters();
  const t0 = performance.now();
  let recent = 0;
  for (let step = 0; step < o.steps; step++) {
    // A fresh batch every step: toy data is unlimited.
    const x = tf.tensor2d(sampleToyArray(o.data, o.batchSize, { seed: o.dataSeed * 1_000_003 + step }), [o.batchSize, 2]);
    const value = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss.compute({ network, x, noise, step }).loss, params);
      opt.applyGradients(grads);
      return value;
    });
    x.dispose();
    ema.emaUpdateFrom(net, o.emaDecay);
    recent += value.dataSync()[0];
    value.dispose();
    const every = Math.max(1, Math.floor(o.steps / 10));
    if ((step + 1) % every === 0) {
      const secs = (performance.now() - t0) / 1000;
      o.log?.(`[${name}] step ${step + 1}/${o.steps}  loss ${(recent / every).toFixed(4)}  ${secs.toFixed(1)} s`);
      recent = 0;
    }
  }
  opt.dispose();
  return (performance.now() - t0) / 1000;
}

function draw(sampler: Sampler, network: Network, n: number, seed: number): Float32Array {
  const out = sample(sampler, { network, shape: [n, 2], noise: seededNoise(seed) });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return Float32Array.from(values);
}

const rowsOf = (x: Float32Array) => ({ data: x, dim: 2 });

/** Runs the whole pipeline and returns the metrics and the sample clouds. */
export function runQuickstart(o: QuickstartOptions): QuickstartResult {
  const data = sampleToyArray(o.data, 4096, { seed: o.seed + 999 });
  const sigmaData = Number(stdOf(data).toFixed(3));
  const mlp = () => new MLP({ dim: 2, hiddenChannels: o.hidden, numLayers: 3, embeddingChannels: 32, embeddingType: 'fourier', fourierScale: 1, seed: o.seed });

  // 1. Teacher: an EDM denoiser D(x; sigma) = cSkip x + cOut F(cIn x, ln(sigma)/4), trained with the EDM loss.
  const teacher = mlp();
  const teacherEma = mlp();
  teacherEma.copyFrom(teacher);
  const edm = edmPreconditioning({ sigmaData });
  const pretrainSeconds = train('teacher', teacher, teacherEma, precondition(teacher.forward, edm), edmLoss({ sigmaData }), {
    ...o, steps: o.pretrainSteps, lr: 2e-3, emaDecay: 0.995, dataSeed: 1,
  });

  // 2. ECT: a copy of the teacher's EMA, trained with ECT's loss; r -> t as the stage grows (4 stages).
  // pMean 0 (ECT's CIFAR default is -1.1): a one-step map is decided at large t, and on 2-D data
  // the default spends most of a short run near t = 0 (1-step MMD 0.121 -> 0.011, docs/results.md).
  const student = mlp();
  student.copyFrom(teacherEma);
  const studentEma = mlp();
  studentEma.copyFrom(student);
  const stageLength = Math.max(1, Math.ceil(o.tuneSteps / 4));
  const ect = ectLoss({ stage: (step) => Math.floor(step / stageLength), pMean: 0 });
  const tuneSeconds = train('ECT', student, studentEma, precondition(student.forward, ectPreconditioning({ sigmaData, mode: 'train' })), ect, {
    ...o, steps: o.tuneSteps, lr: 1e-3, emaDecay: 0.99, dataSeed: 2,
  });

  // 3. Samples from the same latents, metrics against fresh data.
  const teacherD = precondition(teacherEma.forward, edm);
  const ectF = precondition(studentEma.forward, ectPreconditioning({ sigmaData, mode: 'eval' }));
  const fresh = sampleToyArray(o.data, o.samples, { seed: o.seed + 12345 });
  const fresh2 = sampleToyArray(o.data, o.samples, { seed: o.seed + 54321 });
  const metric = (x: Float32Array) => ({
    mmd: mmdUnbiased(rowsOf(x), rowsOf(fresh), { bandwidth: [0.05, 0.2, 0.8] }),
    sw: slicedWasserstein(rowsOf(x), rowsOf(fresh), { projections: 128, seed: 1 }),
  });
  const runs: [string, number, Sampler, Network][] = [
    ['teacher Heun 18 steps', 35, edmSampler({ steps: 18 }), teacherD],
    ['ECT 1 step', 1, ectMultistepSampler({ midT: [] }), ectF],
    ['ECT 2 steps', 2, ectMultistepSampler({ midT: [0.821 * (sigmaData / 0.5)] }), ectF],
  ];
  const methods = runs.map(([label, nfe, sampler, network]) => {
    const points = draw(sampler, network, o.samples, o.seed + 7);
    return { label, nfe, points, ...metric(points) };
  });
  const ectWeights = saveSafetensors(studentEma, { metadata: { sigmaData: String(sigmaData), hidden: String(o.hidden), data: o.data } });
  for (const m of [teacher, teacherEma, student, studentEma]) m.dispose();
  return { sigmaData, pretrainSeconds, tuneSeconds, reference: metric(fresh2), methods, data: fresh, ectWeights };
}
