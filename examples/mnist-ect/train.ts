// One resumable training phase (EDM pretraining or ECT tuning) of a SongUNet with an EMA copy.
// Everything the phase needs to continue exactly is in one safetensors checkpoint: online and EMA
// weights, AdamW moments, the noise source's state, the step, the loss history and the wall time.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { AdamW, noiseFromState, seededNoise, type Network, type NoiseSource } from '@fewstep/core';
import { loadMnist, mnistImagesTensor, epochBatches, batchesPerEpoch } from '@fewstep/data';
import { writeOutput } from '@fewstep/eval';
import type { Loss } from '@fewstep/losses';
import { readSafetensors, stateDict, loadStateDict, writeSafetensors, type HostTensor, type SongUNet } from '@fewstep/nn';

export interface PhaseOptions {
  name: 'pretrain' | 'tune';
  net: SongUNet;
  ema: SongUNet;
  /** The network the loss trains, built on `net.forward` (a preconditioned denoiser / consistency function). */
  network: Network;
  loss: Loss;
  steps: number;
  batchSize: number;
  learningRate: number;
  emaDecay: number;
  seed: number;
  checkpointPath: string;
  checkpointEvery: number;
  /** Stop early (and for good: the phase is marked done) once this many seconds of steps have run. */
  budgetSeconds?: number;
  /** Every how many steps a progress line is printed. */
  logEvery: number;
  data: ReturnType<typeof loadMnist>;
}

export interface PhaseResult {
  steps: number;
  losses: number[];
  /** Wall-clock seconds spent in this phase's steps (summed over resumed runs). */
  seconds: number;
  resumedFrom: number;
}

interface Meta {
  step: number;
  seconds: number;
  losses: number[];
  noise: ReturnType<NoiseSource['state']>;
  optimizerStep: number;
  /** The time budget ran out: the phase is over, a resumed run skips it (a run that reached its steps can be extended by asking for more). */
  done?: boolean;
}

/** Saves online + EMA + optimizer moments + metadata atomically (write to a temp file, rename). */
async function saveCheckpoint(path: string, o: PhaseOptions, opt: AdamW, meta: Meta): Promise<void> {
  const tensors: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(stateDict(o.net))) tensors[`net.${k}`] = v;
  for (const [k, v] of Object.entries(stateDict(o.ema))) tensors[`ema.${k}`] = v;
  const byVar = new Map(o.net.namedParameters().map(([n, v]) => [v.name, n]));
  for (const { name, tensor } of await opt.getWeights()) {
    if (name === 'iter') continue;
    const slash = name.lastIndexOf('/');
    const param = byVar.get(name.slice(0, slash));
    if (param === undefined) continue;
    tensors[`opt.${param}.${name.slice(slash + 1)}`] = { shape: tensor.shape, data: Float32Array.from(tensor.dataSync()) };
  }
  const bytes = writeSafetensors(tensors, { metadata: { meta: JSON.stringify(meta) } });
  writeOutput(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** Restores a checkpoint written by `saveCheckpoint`; returns its metadata. */
async function loadCheckpoint(path: string, o: PhaseOptions, opt: AdamW): Promise<Meta> {
  const file = readSafetensors(readFileSync(path));
  const pick = (prefix: string) =>
    Object.fromEntries(Object.entries(file.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  loadStateDict(o.net, pick('net.'));
  loadStateDict(o.ema, pick('ema.'));
  const meta = JSON.parse(file.metadata?.meta ?? '{}') as Meta;
  const weights: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(meta.optimizerStep, 'int32') }];
  for (const [param, v] of o.net.namedParameters()) {
    for (const which of ['m', 'v'] as const) {
      const host = file.tensors[`opt.${param}.${which}`];
      if (host) weights.push({ name: `${v.name}/${which}`, tensor: tf.tensor(host.data, v.shape) });
    }
  }
  await opt.setWeights(weights);
  tf.dispose(weights.map((w) => w.tensor));
  return meta;
}

/** Runs (or resumes) one phase to `o.steps` steps; prints progress; checkpoints as it goes. */
export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const opt = new AdamW({ learningRate: o.learningRate, weightDecay: 0 });
  let meta: Meta = { step: 0, seconds: 0, losses: [], noise: seededNoise(o.seed).state(), optimizerStep: 0 };
  if (existsSync(o.checkpointPath)) {
    meta = await loadCheckpoint(o.checkpointPath, o, opt);
    console.log(`[${o.name}] resumed from ${o.checkpointPath} at step ${meta.step}/${o.steps}`);
  } else {
    o.ema.copyFrom(o.net);
  }
  const resumedFrom = meta.step;
  if (meta.done || meta.step >= o.steps) {
    opt.dispose();
    console.log(`[${o.name}] already done: ${meta.step} steps, ${meta.seconds.toFixed(0)} s`);
    return { steps: meta.step, losses: meta.losses, seconds: meta.seconds, resumedFrom };
  }
  const noise = noiseFromState(meta.noise);
  const perEpoch = batchesPerEpoch(o.data.count, { batchSize: o.batchSize, dropLast: true });
  const params = o.net.trainableParameters();
  let windowStart = performance.now();
  let windowLoss = 0;
  let windowSteps = 0;
  let cachedEpoch = -1;
  let cached: Int32Array[] = [];
  for (let step = meta.step; step < o.steps; step++) {
    const t0 = performance.now();
    // The batch of step k is a pure function of (seed, k): resuming rebuilds exactly that batch.
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== cachedEpoch) {
      cached = epochBatches(o.data.count, epoch, { batchSize: o.batchSize, seed: o.seed, dropLast: true });
      cachedEpoch = epoch;
    }
    const indices = cached[step % perEpoch];
    const x = mnistImagesTensor(o.data, indices);
    const lossValue = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => o.loss.compute({ network: o.network, x, noise, step, networkOptions: { train: true } }).loss,
        params,
      );
      opt.applyGradients(grads);
      return value;
    });
    x.dispose();
    o.ema.emaUpdateFrom(o.net, o.emaDecay);
    const l = (await lossValue.data())[0];
    lossValue.dispose();
    meta.losses.push(l);
    meta.seconds += (performance.now() - t0) / 1000;
    meta.step = step + 1;
    meta.optimizerStep = step + 1;
    windowLoss += l;
    windowSteps++;
    if (meta.step % o.logEvery === 0 || meta.step === o.steps) {
      const secs = (performance.now() - windowStart) / 1000;
      const rate = (windowSteps * o.batchSize) / secs;
      const eta = ((o.steps - meta.step) * secs) / windowSteps;
      console.log(
        `[${o.name}] step ${meta.step}/${o.steps} loss ${(windowLoss / windowSteps).toFixed(4)} ` +
          `${rate.toFixed(1)} img/s, elapsed ${meta.seconds.toFixed(0)} s, eta ${eta.toFixed(0)} s`,
      );
      windowStart = performance.now();
      windowLoss = 0;
      windowSteps = 0;
    }
    const outOfTime = o.budgetSeconds !== undefined && meta.seconds >= o.budgetSeconds;
    if (outOfTime) console.log(`[${o.name}] time budget of ${o.budgetSeconds} s reached after ${meta.step} steps`);
    if (outOfTime) meta.done = true;
    if (meta.step % o.checkpointEvery === 0 || meta.done || meta.step === o.steps) {
      meta.noise = noise.state();
      await saveCheckpoint(o.checkpointPath, o, opt, meta);
    }
    if (meta.done) break;
  }
  opt.dispose();
  return { steps: meta.step, losses: meta.losses, seconds: meta.seconds, resumedFrom };
}
