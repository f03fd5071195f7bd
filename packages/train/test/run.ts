/**
 * A tiny but complete ECT training run shared by the checkpoint, resume and crash tests: an MLP
 * on 2-D data, ECT-preconditioned, RAdam, an EMA network, seeded noise for the loss and the data.
 */
import * as tf from '@tensorflow/tfjs';
import { ExponentialMovingAverage, RAdam, ectPreconditioning, precondition, seededNoise, type NoiseSource } from '@fewstep/core';
import { ectLoss } from '@fewstep/losses';
import { MLP } from '@fewstep/nn';
import type { TrainingState } from '@fewstep/train';

export interface Run {
  net: MLP;
  target: MLP;
  ema: ExponentialMovingAverage;
  opt: RAdam;
  loss: ReturnType<typeof ectLoss>;
  noise: NoiseSource;
  data: NoiseSource;
  step: number;
  state(): TrainingState;
  trainStep(): number;
  dispose(): void;
}

export function makeRun(seed = 1, hidden = 16): Run {
  const net = new MLP({ dim: 2, hiddenChannels: hidden, numLayers: 2, embeddingChannels: 8, seed });
  const target = new MLP({ dim: 2, hiddenChannels: hidden, numLayers: 2, embeddingChannels: 8, seed: seed + 100 });
  const ema = new ExponentialMovingAverage(net.parameters(), 0.9);
  const opt = new RAdam({ learningRate: 1e-2 });
  // A stage that grows with the step, so the schedule state matters.
  const loss = ectLoss({ stage: (step: number) => Math.floor(step / 4), c: 0.01 });
  const f = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const run: Run = {
    net, target, ema, opt, loss,
    noise: seededNoise(seed),
    data: seededNoise(seed + 1),
    step: 0,
    state: () => ({
      step: run.step,
      modules: { online: net, target },
      optimizer: opt,
      emas: { ema },
      noise: { loss: run.noise, data: run.data },
      losses: { ect: loss },
      metadata: { recipe: 'test', seed },
    }),
    trainStep() {
      const x = tf.tidy(() => run.data.normal([8, 2]).mul(0.5).add(1));
      const value = opt.minimize(() => loss.compute({ network: f, x, step: run.step, noise: run.noise }).loss, true, net.trainableParameters());
      const v = value!.dataSync()[0];
      tf.dispose([x, value!]);
      ema.update();
      target.emaUpdateFrom(net, 0.5);
      run.step++;
      return v;
    },
    dispose() {
      net.dispose();
      target.dispose();
      ema.dispose();
      opt.dispose();
    },
  };
  return run;
}

/** Every variable of the run (networks, EMA shadow, optimizer moments) as float32 bytes, by name. */
export async function snapshot(run: Run): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [n, e] of run.net.namedEntries('online.')) out[n] = Array.from(e.variable.dataSync());
  for (const [n, e] of run.target.namedEntries('target.')) out[n] = Array.from(e.variable.dataSync());
  run.ema.shadow.forEach((v, i) => (out[`ema.${i}`] = Array.from(v.dataSync())));
  const byVar = new Map(run.net.namedEntries().map(([n, e]) => [e.variable.name, n]));
  for (const w of await run.opt.getWeights()) {
    const slash = w.name.lastIndexOf('/');
    const name = w.name === 'iter' ? 'iter' : `opt.${byVar.get(w.name.slice(0, slash))}/${w.name.slice(slash + 1)}`;
    out[name] = Array.from(w.tensor.dataSync());
    if (w.name === 'iter') w.tensor.dispose();
  }
  return out;
}
