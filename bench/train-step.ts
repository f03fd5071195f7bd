/**
 * Training-step benchmark: EDM's SongUNet (DDPM++) at the exact sizes of the PyTorch baseline
 * (`shared/baselines/pytorch-cpu.json`: unet-s32 and unet-m28), trained with fewstep's ECT loss
 * and fewstep's Adam (`AdamW` with weight decay 0: PyTorch's Adam; `optimizer.minimize`), on wasm with @fewstep/backends' kernels and, as a ratio, on
 * cpu; plus a one-evaluation sampling call and a per-kernel profile of one wasm step. Writes its
 * section of docs/benchmarks.md. Run: `npm run bench:train-step` (FEWSTEP_BENCH_QUICK=1: batch 4,
 * 2 timed steps, no cpu row; for trying the script, not for the table). `npm run
 * bench:train-step:relaxed-simd` (FEWSTEP_BENCH_RELAXED_SIMD=1): the same with initBackend's
 * `relaxedSimd` (our GEMM's fused multiply-add on Node 20), no cpu row, in a section of its own.
 */
import { sectionLog, writeBenchmarkSection } from './doc-section';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { AdamW, ectPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { ectLoss } from '@fewstep/losses';
import { ddpmpp, type SongUNet } from '@fewstep/nn';

const QUICK = process.env.FEWSTEP_BENCH_QUICK === '1';
const RELAXED = process.env.FEWSTEP_BENCH_RELAXED_SIMD === '1';
const TRAIN_BATCH = QUICK ? 4 : 16;
/** Warm-up steps: the thread gate times each call signature ~7 times before it decides. */
const WARMUP = QUICK ? 2 : 8;
const TIMED = QUICK ? 2 : 7;
const SAMPLE_BATCH = QUICK ? 8 : 32;
/** The profiled step's batch (profiling is slow; kernel shares barely move with the batch). */
const PROFILE_BATCH = QUICK ? 4 : 8;
/** The cpu row is skipped when its estimated step exceeds this many seconds (the brief: <= 3 min). */
const CPU_BUDGET_S = 150;

/** The baseline's networks: EDM SongUNet, DDPM++ settings, exactly as in pytorch-cpu.json. */
interface Model {
  name: 'unet-s32' | 'unet-m28';
  res: number;
  channels: number;
  params: number;
  fwdGflopPerImg: number;
  torchTrainImgS: number;
  torchTrainMs: number;
  torchSampleImgS: number;
}

const MODELS: Model[] = [
  { name: 'unet-s32', res: 32, channels: 3, params: 1_754_147, fwdGflopPerImg: 0.9036, torchTrainImgS: 19.4, torchTrainMs: 825.9, torchSampleImgS: 76.8 },
  { name: 'unet-m28', res: 28, channels: 1, params: 1_702_689, fwdGflopPerImg: 0.6321, torchTrainImgS: 35.0, torchTrainMs: 456.7, torchSampleImgS: 127.9 },
];

function buildNet(m: Model): SongUNet {
  return ddpmpp({
    imgResolution: m.res, inChannels: m.channels, outChannels: m.channels,
    modelChannels: 32, channelMult: [1, 2, 2], channelMultEmb: 4, numBlocks: 2,
    attnResolutions: [16], dropout: 0, seed: 1,
  });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Seconds of each call of `fn` (its result read back, then disposed): `warmup` untimed, then `timed`. */
function timeCalls(fn: () => tf.Tensor, warmup: number, timed: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < warmup + timed; i++) {
    const t0 = performance.now();
    const r = fn();
    r.dataSync();
    r.dispose();
    const s = (performance.now() - t0) / 1000;
    if (i >= warmup) out.push(s);
  }
  return out;
}

/** One ECT step (ectLoss: a forward with gradient, a target forward without; backward; Adam). */
function makeStep(net: SongUNet, m: Model, batch: number) {
  const network = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const loss = ectLoss({ stage: 2 }); // stage 2: r > 0 for most rows, so both passes do real work
  const noise = seededNoise(7);
  const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0 });
  const vars = net.trainableParameters();
  const x = tf.randomUniform([batch, m.res, m.res, m.channels], -1, 1, 'float32', 3);
  let k = 0;
  const step = () => opt.minimize(() => loss.compute({ network, x, noise, step: k++ }).loss, true, vars)!;
  const dispose = () => {
    opt.dispose();
    x.dispose();
  };
  return { step, dispose };
}

/** One network evaluation of the eval-mode ECT consistency function at sigma = 80 (one-step sampling). */
function makeSample(net: SongUNet, m: Model, batch: number) {
  const f = precondition(net.forward, ectPreconditioning({ mode: 'eval' }));
  const z = tf.randomNormal([batch, m.res, m.res, m.channels], 0, 80, 'float32', 5);
  const sigma = tf.fill([batch], 80);
  return { sample: () => tf.tidy(() => f(z, sigma)), dispose: () => tf.dispose([z, sigma]) };
}

interface Row {
  model: Model;
  paramsOk: boolean;
  params: number;
  stepS: number[];
  sampleS: number[];
  memAfter: tf.MemoryInfo;
}

/** Training steps and sampling calls of one network on the current backend (wasm). */
function runWasm(m: Model): Row {
  const net = buildNet(m);
  const params = net.numParameters();
  const { step, dispose } = makeStep(net, m, TRAIN_BATCH);
  const stepS = timeCalls(step, WARMUP, TIMED);
  dispose();
  const s = makeSample(net, m, SAMPLE_BATCH);
  const sampleS = timeCalls(s.sample, 1, QUICK ? 2 : 3);
  s.dispose();
  const memAfter = tf.memory();
  net.dispose();
  return { model: m, paramsOk: params === m.params, params, stepS, sampleS, memAfter };
}

/** cpu (+ our kernels): a forward at batch 1 estimates the step; one step at batch 2 if it fits the budget. */
function runCpu(m: Model): { batch: number; s: number } | string {
  const net = buildNet(m);
  try {
    const probe = makeSample(net, m, 1);
    const [fwd] = timeCalls(probe.sample, 0, 1);
    probe.dispose();
    const batch = 2;
    const estimate = fwd * 4 * batch * 1.5; // 4 forwards' worth per image (see the accounting), 1.5x margin
    if (estimate > CPU_BUDGET_S) return `skipped: a batch-1 forward took ${fwd.toFixed(1)} s, a step would take ~${estimate.toFixed(0)} s`;
    const { step, dispose } = makeStep(net, m, batch);
    const [s] = timeCalls(step, 0, 1);
    dispose();
    return { batch, s };
  } finally {
    net.dispose();
  }
}

interface Profile {
  total: number;
  calls: number;
  wallMs: number;
  top: [string, number, number, string][];
  scopes: { count: number; ms: number };
}

/** Input shapes as JSON, abbreviated past 6 inputs (the optimizer's Concat takes ~270). */
function shapesOf(shapes: number[][]): string {
  if (shapes.length <= 6) return JSON.stringify(shapes);
  return `${shapes.length} inputs: ${JSON.stringify(shapes.slice(0, 3)).slice(0, -1)},...]`;
}

/** Kernel time of one wasm training step by kernel name (tf.profile; forward and backward kernels). */
async function profileStep(m: Model): Promise<Profile> {
  const net = buildNet(m);
  const { step, dispose } = makeStep(net, m, PROFILE_BATCH);
  step().dispose(); // warm-up
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false); // do not read every output back while profiling
  const t0 = performance.now();
  const info = await tf.profile(() => {
    const r = step();
    r.dataSync();
    r.dispose();
  });
  const wallMs = performance.now() - t0;
  dispose();
  net.dispose();
  // Per kernel name: total ms, calls, and the input shapes of its slowest call.
  // Entries that are not registered kernels are scopes (tf.customGrad's forwards: the loss's
  // no-gradient target pass, GroupNorm) whose kernels are also listed one by one: kept apart.
  const byName = new Map<string, [number, number, number, string]>();
  const scopes = { count: 0, ms: 0 };
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    if (!tf.getKernel(k.name, tf.getBackend())) {
      scopes.count++;
      scopes.ms += ms;
      continue;
    }
    const [t, n, worst, shapes] = byName.get(k.name) ?? [0, 0, -1, ''];
    const slowest = ms > worst;
    byName.set(k.name, [t + ms, n + 1, slowest ? ms : worst, slowest ? shapesOf(k.inputShapes) : shapes]);
  }
  const total = [...byName.values()].reduce((a, [t]) => a + t, 0);
  const calls = [...byName.values()].reduce((a, [, n]) => a + n, 0);
  const top = [...byName.entries()]
    .map(([name, [t, n, , shapes]]) => [name, t, n, shapes] as [string, number, number, string])
    .sort((a, b) => b[1] - a[1]);
  return { total, calls, wallMs, top: top.slice(0, 14), scopes };
}

/** ms of the attention's q/k/v split two ways (median of 3 after 1 warm-up), and of an Add of the same size. */
function qkvSplitMs(batch: number): { lastAxis: number; leading: number; add: number; padGrad: number; padGradAdd: number } {
  const x = tf.randomNormal([batch, 256, 1, 64, 3]);
  const y = tf.randomNormal([batch, 32, 16, 2, 64]);
  const ms = (fn: () => tf.Tensor[]) => {
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const outs = tf.tidy(fn);
      for (const t of outs) t.dataSync();
      tf.dispose(outs);
      if (i > 0) times.push(performance.now() - t0);
    }
    return median(times);
  };
  const out = {
    lastAxis: ms(() => tf.unstack(x, 4)),
    leading: ms(() => tf.unstack(tf.transpose(x, [4, 0, 1, 2, 3]), 0)),
    add: ms(() => [x.add(x)]),
    // The gradient of zeroInsert's rank-5 pad (nn's FIR up-sampling): a slice of a size-2 inner axis.
    padGrad: ms(() => [tf.slice(y, [0, 0, 0, 0, 0], [-1, -1, -1, 1, -1])]),
    padGradAdd: ms(() => [y.add(y)]),
  };
  tf.dispose([x, y]);
  return out;
}

/** GFLOP/s of the wasm forward conv of the baseline's reference shape (16x28x28, 32 -> 32, 3x3). */
function convRefGflops(): number {
  const x = tf.randomNormal([16, 28, 28, 32]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 32, 32]) as tf.Tensor4D;
  const s = median(timeCalls(() => tf.conv2d(x, w, 1, 'same'), 2, 7));
  tf.dispose([x, w]);
  return (2 * 16 * 28 * 28 * 9 * 32 * 32) / s / 1e9;
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

async function main(): Promise<void> {
  tf.env().set('IS_TEST', true); // silences the "install tfjs-node" banner
  const { log, lines } = sectionLog();
  const load0 = loadavg();
  const report = await initBackend('wasm', { relaxedSimd: RELAXED });
  log(`Measured ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version.tfjs}, wasm ${report.threads} thread(s) (SIMD ${report.simd}; relaxed SIMD ${report.relaxedSimd}${RELAXED ? ', asked for' : ''}; ${report.threadPolicy}) with @fewstep/backends' kernels; load average ${load0.map(f1).join(' / ')} (1 / 5 / 15 min) at start${QUICK ? '; QUICK run' : ''}.`);
  log('');
  const convRef = convRefGflops();
  const rows = MODELS.map(runWasm);
  const profile = await profileStep(MODELS[0]);

  log(`### ECT training step (ectLoss + Adam via \`optimizer.minimize\`), wasm, batch ${TRAIN_BATCH}; median of ${TIMED} timed steps after ${WARMUP} warm-up steps`);
  log('');
  log('| network | params (= baseline?) | ms/step (min-max) | img/s | PyTorch img/s | / PyTorch | effective GFLOP/s | / wasm conv fwd |');
  log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const s = median(r.stepS);
    const imgS = TRAIN_BATCH / s;
    const gflops = (imgS * 4 * r.model.fwdGflopPerImg);
    log(`| ${r.model.name} | ${r.params.toLocaleString('en-US')} (${r.paramsOk ? 'yes' : `NO, baseline ${r.model.params.toLocaleString('en-US')}`}) | ${f1(s * 1000)} (${f1(Math.min(...r.stepS) * 1000)}-${f1(Math.max(...r.stepS) * 1000)}) | ${f2(imgS)} | ${r.model.torchTrainImgS} | **${f2(imgS / r.model.torchTrainImgS)}x** | ${f2(gflops)} | ${f2(gflops / convRef)}x |`);
  }
  log('');
  log(`Effective GFLOP/s counts a step as 4 forward passes per image (the target forward without gradient, the online forward, and its backward at 2x a forward: input and weight gradients), times the baseline's forward GFLOP/img (0.904 / 0.632), the accounting that reproduces the baseline's own 70.1 / 88.5 GFLOP/s. Wasm forward conv of the baseline's reference shape (batch 16, 28x28, 32 -> 32, 3x3) in this run: ${f2(convRef)} GFLOP/s (PyTorch: 177.6).`);
  log('');
  log(`### Sampling: one network evaluation (eval-mode ECT consistency function at sigma = 80), wasm, batch ${SAMPLE_BATCH}; median of ${QUICK ? 2 : 3} calls after 1 warm-up`);
  log('');
  log('| network | ms/eval | img/s | PyTorch img/s | / PyTorch | effective GFLOP/s |');
  log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const s = median(r.sampleS);
    const imgS = SAMPLE_BATCH / s;
    log(`| ${r.model.name} | ${f1(s * 1000)} | ${f2(imgS)} | ${r.model.torchSampleImgS} | ${f2(imgS / r.model.torchSampleImgS)}x | ${f2(imgS * r.model.fwdGflopPerImg)} |`);
  }
  log('');
  const mem = rows.map((r) => `${r.model.name}: ${(r.memAfter.numBytes / 2 ** 20).toFixed(1)} MiB in ${r.memAfter.numTensors} tensors`).join('; ');
  log(`\`tf.memory()\` after each network's steps and sampling calls, with the network still alive (its parameters; Adam's moments are disposed): ${mem}.`);

  if (profile) {
    log('');
    log(`### Where a wasm step goes: kernel time of one unet-s32 step (batch ${PROFILE_BATCH}), \`tf.profile\``);
    log('');
    const { scopes } = profile;
    log(`Sum of kernel times ${f1(profile.total)} ms in ${profile.calls.toLocaleString('en-US')} kernel calls; the profiled step took ${f1(profile.wallMs)} ms of wall time, so ${f1(profile.wallMs - profile.total)} ms (${f1((100 * (profile.wallMs - profile.total)) / profile.wallMs)}%) went outside kernels (tape, engine bookkeeping, JS; plus the profiler's own cost). Composite kernels of @fewstep/backends count once, under their own name; the ${scopes.count} \`tf.customGrad\` scopes (the loss's no-gradient target pass, nn's GroupNorm; ${f1(scopes.ms)} ms) are left out of the sum, as their kernels are listed one by one.`);
    log('');
    log('| kernel | ms | share | calls | inputs of its slowest call |');
    log('| --- | --- | --- | --- | --- |');
    for (const [name, ms, n, shapes] of profile.top) log(`| ${name} | ${f1(ms)} | ${f1((100 * ms) / profile.total)}% | ${n} | \`${shapes}\` |`);
    const split = qkvSplitMs(TRAIN_BATCH);
    log('');
    log(`Stock wasm's \`Unpack\` along the innermost axis is pathological: the attention's q/k/v split (\`qkvAttention\` in @fewstep/nn) used to \`tf.unstack\` [B, N, heads, d, 3] on its last axis and was 41.6% of a unet-s32 step (1.04 img/s on 2026-11-22 at 01:40); nn now transposes to [3, B, heads, N, d] and unstacks axis 0. Measured in this run on [${TRAIN_BATCH}, 256, 1, 64, 3]: unstack on axis 4 ${f1(split.lastAxis)} ms; transpose + unstack on axis 0 ${f1(split.leading)} ms (an Add of the same size: ${f1(split.add)} ms). The gradient of the rank-5 pads in nn's \`zeroInsert\` (FIR up-sampling) is a rank-5 slice, which stock wasm ran through its per-element loop (21.7% of a step after the attention fix; 419 ms for [16, 32, 16, 2, 64] -> [16, 32, 16, 1, 64]); @fewstep/backends now slices over merged dimensions: ${f1(split.padGrad)} ms in this run (an Add of the input's size: ${f1(split.padGradAdd)} ms).`);
  }

  const memEnd = tf.memory();
  log('');
  log(`\`tf.memory()\` on wasm after every network, optimizer and input was disposed: ${memEnd.numTensors} tensors, ${memEnd.numBytes} bytes.`);

  if (!QUICK && !RELAXED) {
    log('');
    log('### cpu (stock tfjs cpu + our cpu kernels), as a ratio to wasm');
    log('');
    log('| network | batch | s/step (1 step, no warm-up) | img/s | wasm / cpu |');
    log('| --- | --- | --- | --- | --- |');
    await initBackend('cpu', { registerKernels: false });
    unregisterTrainingKernels('cpu');
    registerTrainingKernels('cpu');
    const m = MODELS[0];
    const cpu = runCpu(m);
    const wasmImgS = TRAIN_BATCH / median(rows[0].stepS);
    if (typeof cpu === 'string') log(`| ${m.name} | - | ${cpu} | - | - |`);
    else log(`| ${m.name} | ${cpu.batch} | ${f1(cpu.s)} | ${(cpu.batch / cpu.s).toFixed(3)} | ${f1(wasmImgS / (cpu.batch / cpu.s))}x |`);
    log('');
    log('Stock cpu (without our `Conv2DBackpropFilter`) is not timed: its filter gradient runs at ~0.003-0.004 GFLOP/s (`bench:backends`), and a step needs ~0.9 GFLOP of filter gradient per unet-s32 image, so a batch-2 step would take roughly 8-10 minutes.');
    unregisterTrainingKernels();
  }
  log('');
  log(`Load average ${loadavg().map(f1).join(' / ')} at the end (the machine is shared by several engineers: absolute figures move with the load, and PyTorch's were taken on a quieter machine).`);
  if (RELAXED) writeBenchmarkSection('train-step-relaxed-simd', `The same with relaxed SIMD (\`npm run bench:train-step:relaxed-simd\`)`, lines.join('\n'));
  else writeBenchmarkSection('train-step', `ECT training step of EDM's SongUNet vs PyTorch (\`npm run bench:train-step\`)`, lines.join('\n'));
}

await main();
