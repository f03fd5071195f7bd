// MNIST: pretrain an EDM SongUNet teacher, ECT-tune it to a 1-2 step generator, and compare the
// teacher's 35-evaluation Heun samples with ECT's 1- and 2-step samples by MNIST Fréchet distance.
// Run: npx tsx examples/mnist-ect/main.ts [--backend wasm] [--out examples/mnist-ect/out] [--smoke]
// Re-running resumes from the checkpoints in --out (delete the folder to start over).
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, BACKEND_NAMES, type BackendChoice } from '@fewstep/backends';
import { edmPreconditioning, ectPreconditioning, precondition } from '@fewstep/core';
import { loadMnist } from '@fewstep/data';
import { lineChartPng, writeOutput } from '@fewstep/eval';
import { edmLoss, ectLoss } from '@fewstep/losses';
import { SongUNet, saveSafetensors } from '@fewstep/nn';
import { edmSampler, ectMultistepSampler } from '@fewstep/samplers';
import { runPhase } from './train';
import { evaluate, prepareClassifier, type Candidate } from './evaluate';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    out: { type: 'string', default: 'examples/mnist-ect/out' },
    smoke: { type: 'boolean', default: false },
    'pretrain-steps': { type: 'string' },
    'tune-steps': { type: 'string' },
    'pretrain-budget-s': { type: 'string' },
    batch: { type: 'string' },
    channels: { type: 'string' },
    samples: { type: 'string' },
    'classifier-epochs': { type: 'string' },
  },
});

const smoke = args.smoke ?? false;
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
const cfg = {
  backend: args.backend as BackendChoice,
  out: args.out!,
  batchSize: num(args.batch, smoke ? 8 : 32),
  pretrainSteps: num(args['pretrain-steps'], smoke ? 6 : 2000),
  /** Pretraining stops at this many seconds of training steps if it has not reached pretrainSteps. */
  pretrainBudgetSeconds: num(args['pretrain-budget-s'], smoke ? 1e9 : 2100),
  /** At most a quarter of the pretraining steps actually run. */
  tuneSteps: num(args['tune-steps'], smoke ? 4 : 500),
  channels: num(args.channels, 8),
  samples: num(args.samples, smoke ? 16 : 400),
  classifierEpochs: num(args['classifier-epochs'], smoke ? 1 : 2),
  pretrainLr: 2e-3,
  tuneLr: 5e-4,
  pretrainEma: 0.99,
  tuneEma: 0.95,
  seed: 1,
};
if (!BACKEND_NAMES.includes(cfg.backend)) throw new Error(`--backend must be one of ${BACKEND_NAMES.join(', ')}`);

function makeNet(seed: number): SongUNet {
  return new SongUNet({
    imgResolution: 28,
    inChannels: 1,
    outChannels: 1,
    modelChannels: cfg.channels,
    channelMult: [1, 2, 2],
    channelMultEmb: 4,
    numBlocks: 1,
    attnResolutions: [],
    dropout: 0,
    seed,
  });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const report = await initBackend(cfg.backend);
  console.log(`backend: ${report.backend} (${report.reason}); kernels: ${report.kernelsRegistered.join(', ') || 'none'}`);
  console.log(`config: ${JSON.stringify(cfg)}`);
  const train = loadMnist({ split: 'train', limit: smoke ? 512 : undefined });
  const test = loadMnist({ split: 'test', limit: smoke ? 256 : undefined });

  // 1. The classifier whose features define the MNIST Fréchet distance (trained once, then loaded).
  const classifier = await prepareClassifier(`${cfg.out}/classifier.safetensors`, train, test, cfg.classifierEpochs);

  // 2. EDM pretraining of the teacher (denoiser D = EDM-preconditioned SongUNet), EMA kept.
  const teacher = makeNet(cfg.seed);
  const teacherEma = makeNet(cfg.seed);
  console.log(`SongUNet: ${teacher.numParameters()} parameters`);
  const pre = await runPhase({
    name: 'pretrain',
    net: teacher,
    ema: teacherEma,
    network: precondition(teacher.forward, edmPreconditioning()),
    loss: edmLoss(),
    steps: cfg.pretrainSteps,
    budgetSeconds: cfg.pretrainBudgetSeconds,
    batchSize: cfg.batchSize,
    learningRate: cfg.pretrainLr,
    emaDecay: cfg.pretrainEma,
    seed: cfg.seed,
    checkpointPath: `${cfg.out}/pretrain.ckpt.safetensors`,
    checkpointEvery: smoke ? 3 : 250,
    logEvery: smoke ? 1 : 50,
    data: train,
  });
  writeOutput(`${cfg.out}/teacher-ema.safetensors`, saveSafetensors(teacherEma, { metadata: { steps: String(pre.steps) } }));

  // 3. ECT: start from the teacher's EMA weights, train f with ECT's loss (EDM scalings in
  //    training, the boundary condition f(x, sigmaMin) = x at evaluation), stages every quarter.
  const student = makeNet(cfg.seed);
  const studentEma = makeNet(cfg.seed);
  const ckpt = `${cfg.out}/tune.ckpt.safetensors`;
  if (!existsSync(ckpt)) student.copyFrom(teacherEma);
  const tuneSteps = smoke ? cfg.tuneSteps : Math.min(cfg.tuneSteps, Math.floor(pre.steps / 4));
  const stageLength = Math.max(1, Math.ceil(tuneSteps / 4));
  const tune = await runPhase({
    name: 'tune',
    net: student,
    ema: studentEma,
    network: precondition(student.forward, ectPreconditioning({ mode: 'train' })),
    loss: ectLoss({ stage: (step) => Math.floor(step / stageLength) }),
    steps: tuneSteps,
    batchSize: cfg.batchSize,
    learningRate: cfg.tuneLr,
    emaDecay: cfg.tuneEma,
    seed: cfg.seed + 1,
    checkpointPath: ckpt,
    checkpointEvery: smoke ? 2 : 100,
    logEvery: smoke ? 1 : 25,
    data: train,
  });
  writeOutput(`${cfg.out}/ect-ema.safetensors`, saveSafetensors(studentEma, { metadata: { steps: String(tune.steps) } }));

  // 4. Sample and measure: teacher 18-step Heun (35 evaluations), ECT 1 and 2 steps.
  const teacherD = precondition(teacherEma.forward, edmPreconditioning());
  const ectF = precondition(studentEma.forward, ectPreconditioning({ mode: 'eval' }));
  const candidates: Candidate[] = [
    { key: 'teacher35', label: 'EDM teacher, Heun 18 steps', nfe: 35, sampler: edmSampler({ steps: 18 }), network: teacherD },
    { key: 'ect1', label: 'ECT, 1 step', nfe: 1, sampler: ectMultistepSampler({ midT: [] }), network: ectF },
    { key: 'ect2', label: 'ECT, 2 steps', nfe: 2, sampler: ectMultistepSampler({ midT: [0.821] }), network: ectF },
  ];
  const metrics = await evaluate({ classifier: classifier.model, train, test, candidates, samples: cfg.samples, out: cfg.out, seed: 7 });

  writeOutput(
    `${cfg.out}/loss-curves.png`,
    lineChartPng(
      [
        { name: 'EDM pretraining loss', y: smooth(pre.losses, 50) },
        { name: 'ECT tuning loss', y: smooth(tune.losses, 50), x: tune.losses.map((_, i) => i + pre.steps) },
      ],
      { title: 'Training loss (moving average of 50 steps)', xLabel: 'step', yLabel: 'loss', logY: true },
    ),
  );
  const fd = Object.fromEntries(metrics.map((m) => [m.key, m.fd]));
  const result = {
    date: new Date().toISOString(),
    backend: report.backend,
    config: cfg,
    parameters: teacher.numParameters(),
    classifier: { testAccuracy: classifier.accuracy, trainedHere: classifier.trained, seconds: classifier.seconds },
    pretrain: { steps: pre.steps, seconds: pre.seconds, images: pre.steps * cfg.batchSize },
    tune: { steps: tune.steps, seconds: tune.seconds, images: tune.steps * cfg.batchSize },
    tuneOverPretrain: { steps: tune.steps / pre.steps, seconds: tune.seconds / pre.seconds },
    metrics,
    ratios: { ect2OverTeacher: fd.ect2 / fd.teacher35, ect1OverTeacher: fd.ect1 / fd.teacher35 },
    targets: {
      twoStepWithin1_3x: fd.ect2 <= 1.3 * fd.teacher35,
      oneStepWithin2x: fd.ect1 <= 2 * fd.teacher35,
      tuningAtMostQuarter: tune.steps <= pre.steps / 4,
    },
    totalSeconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(`${cfg.out}/results.json`, JSON.stringify(result, null, 2));
  console.log('\nMNIST Fréchet distance (classifier features, lower is better):');
  for (const m of metrics) console.log(`  ${m.label.padEnd(34)} NFE ${String(m.nfe).padStart(2)}  FD ${m.fd.toFixed(3)}  (${m.seconds.toFixed(1)} s)`);
  console.log(`classifier test accuracy ${(classifier.accuracy * 100).toFixed(2)}%`);
  console.log(`pretraining ${pre.steps} steps ${pre.seconds.toFixed(0)} s; tuning ${tune.steps} steps ${tune.seconds.toFixed(0)} s (${(100 * result.tuneOverPretrain.steps).toFixed(1)}% of the steps, ${(100 * result.tuneOverPretrain.seconds).toFixed(1)}% of the time)`);
  console.log(`ECT 2-step / teacher FD = ${result.ratios.ect2OverTeacher.toFixed(2)}x, 1-step / teacher = ${result.ratios.ect1OverTeacher.toFixed(2)}x`);
  console.log(`targets: ${JSON.stringify(result.targets)}; outputs in ${cfg.out}; total ${result.totalSeconds.toFixed(0)} s`);
  for (const m of [teacher, teacherEma, student, studentEma]) m.dispose();
  classifier.model.dispose();
}

/** Trailing moving average (for readable loss curves). */
function smooth(y: number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    sum += y[i];
    if (i >= window) sum -= y[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
