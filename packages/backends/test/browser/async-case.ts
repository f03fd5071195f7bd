// Issue 3 in the environment where it bites: a training loop through the public API in headless
// Chromium, where webgpu's dataSync returns zeros and then loses the device. Every synchronous read
// is trapped while the case runs on the backend under test; the number attempted is an output that
// must be 0 ("-x" outputs are self-checks compared with 0).
import * as tf from '@tensorflow/tfjs';
import { AdamW, ExponentialMovingAverage, ectPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { imageGridAsync } from '@fewstep/eval';
import { ectLoss } from '@fewstep/losses';
import { MLP, stateDictAsync } from '@fewstep/nn';
import { ectMultistepSampler, sample, slerp } from '@fewstep/samplers';
import { MemoryStore, StepGuard, loadCheckpoint, saveCheckpoint } from '@fewstep/train';
import type { Case } from './cases';

/** Makes dataSync / arraySync / bufferSync and the backend's readSync throw and count; returns the undo. */
function trapSyncReads(count: { n: number }): () => void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const backend = tf.backend() as unknown as Record<string, unknown>;
  const saved: [Record<string, unknown>, string, unknown][] = [];
  const trap = (what: string) => () => {
    count.n++;
    throw new Error(`synchronous read (${what}) on ${tf.getBackend()}`);
  };
  for (const name of ['dataSync', 'arraySync', 'bufferSync']) saved.push([proto, name, proto[name]]);
  saved.push([backend, 'readSync', backend.readSync]);
  for (const [obj, name] of saved) obj[name] = trap(name);
  // webgpu forwards small ops on CPU-resident inputs to cpu kernels through readSync: off here, so
  // every trapped read is one the SDK asked for.
  const forward = tf.env().getBool('WEBGPU_CPU_FORWARD');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return () => {
    saved.forEach(([obj, name, fn]) => (obj[name] = fn));
    tf.env().set('WEBGPU_CPU_FORWARD', forward);
  };
}

function mlp(seed: number): MLP {
  return new MLP({ dim: 2, hiddenChannels: 16, numLayers: 2, embeddingChannels: 8, seed });
}

async function trainingLoop(): Promise<Record<string, tf.Tensor>> {
  const net = mlp(3);
  const ema = new ExponentialMovingAverage(net.parameters(), 0.9);
  const opt = new AdamW({ learningRate: 1e-2 });
  const loss = ectLoss({ c: 0.01 });
  const f = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const guard = new StepGuard();
  const noise = seededNoise(1);
  const data = seededNoise(2);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const x = tf.tidy(() => data.normal([8, 2]).mul(0.5).add(1));
    const poison = step === 1 ? NaN : 1; // skipped: parameters and moments untouched
    const r = await guard.stepAsync({
      step, optimizer: opt, params: net, clipNorm: 1,
      loss: () => tf.mul(loss.compute({ network: f, x, step, noise }).loss, poison) as tf.Scalar,
    });
    x.dispose();
    if (!r.skipped) ema.update();
    losses.push(r.skipped ? -1 : r.loss);
  }
  const store = new MemoryStore();
  await saveCheckpoint(store, { step: 3, modules: { online: net }, optimizer: opt, emas: { ema } });
  const net2 = mlp(11);
  const ema2 = new ExponentialMovingAverage(net2.parameters(), 0.9);
  const opt2 = new AdamW({ learningRate: 1e-2 });
  await loadCheckpoint(store, { modules: { online: net2 }, optimizer: opt2, emas: { ema: ema2 } });
  const a = await stateDictAsync(net);
  const b = await stateDictAsync(net2);
  const roundTrip = Object.keys(a).reduce((m, k) => Math.max(m, ...a[k].data.map((v, i) => Math.abs(v - b[k].data[i]))), 0);
  const latents = tf.tidy(() => {
    const [z1, z2] = tf.unstack(seededNoise(5).normal([2, 4, 2]));
    return tf.reshape(slerp(z1, z2, [0, 0.5, 1]), [12, 2]);
  });
  const g = precondition(net2.forward, ectPreconditioning({ mode: 'train' }));
  const xs = sample(ectMultistepSampler({ tMax: 80, midT: [0.821] }), { network: g, latents, noise: seededNoise(6) });
  const images = tf.tidy(() => tf.reshape(tf.clipByValue(tf.div(xs, 3), -1, 1), [6, 2, 2, 1]) as tf.Tensor4D);
  const grid = await imageGridAsync(images, { cols: 3 });
  const out = {
    losses: tf.tensor1d(losses),
    weights: tf.tidy(() => tf.concat(Object.values(b).map((h) => tf.tensor1d(h.data)))),
    ema: tf.tidy(() => tf.concat(ema2.shadow.map((v) => tf.reshape(v, [-1])))),
    sample: xs,
    grid: tf.tensor1d(Array.from(grid.data), 'float32'),
    'roundTrip-x': tf.scalar(roundTrip),
  };
  tf.dispose([latents, images]);
  for (const d of [net, net2, ema, ema2, opt, opt2]) d.dispose();
  return out;
}

export const trainingLoopCase: Case = {
  name: 'async training loop: StepGuard, checkpoint, stateDict, slerp, grid (webgpu: no sync reads)',
  // Grid pixels are 8-bit: one rounding level is 1/255 = 3.9e-3 of the largest.
  tol: 5e-3,
  run: () => {
    throw new Error('an async case: use runAsync');
  },
  async runAsync() {
    const count = { n: 0 };
    // The rule is for webgpu; on webgl (and cpu) synchronous reads are allowed (e.g. slerp's norm check).
    const undo = tf.getBackend() === 'webgpu' ? trapSyncReads(count) : () => undefined;
    try {
      const out = await trainingLoop();
      return { ...out, 'syncReads-x': tf.scalar(count.n) };
    } finally {
      undo();
    }
  },
};
