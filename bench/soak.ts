/**
 * Soak test (`npm run soak`): ECT training of a small SongUNet on the wasm backend with our
 * training kernels, a StepGuard, an EMA, RAdam, and a crash-safe checkpoint every 200 steps;
 * tf.memory() (numTensors, numBytes) is reported every 100 steps. Both must stay flat after the
 * first steps (optimizer moments and the EMA are created at step 1). Steps: argv[2] (default 2000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@fewstep/backends';
import { ExponentialMovingAverage, RAdam, ectPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { ectLoss } from '@fewstep/losses';
import { SongUNet } from '@fewstep/nn';
import { NodeStore, StepGuard, loadCheckpoint, saveCheckpoint } from '@fewstep/train';

const STEPS = Number(process.argv[2] ?? 2000);
const CKPT_EVERY = 200;
const REPORT_EVERY = 100;
const BATCH = 4;

async function main(): Promise<void> {
  const report = await initBackend('wasm');
  console.log(`backend ${report.backend} (${report.reason}); kernels: ${report.kernelsRegistered.length}`);
  const net = new SongUNet({
    imgResolution: 8, inChannels: 1, outChannels: 1, modelChannels: 16, channelMult: [1, 2], numBlocks: 1,
    attnResolutions: [4], dropout: 0, seed: 1,
  });
  console.log(`SongUNet 8x8x1, ${net.numParameters()} parameters, batch ${BATCH}, ${STEPS} steps`);
  const f = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const loss = ectLoss({ stage: (step: number) => Math.floor(step / 500), c: 0.03 });
  const opt = new RAdam({ learningRate: 1e-3 });
  const ema = new ExponentialMovingAverage(net.parameters(), 0.999);
  const guard = new StepGuard({ maxConsecutive: 5 });
  let noise = seededNoise(1);
  let data = seededNoise(2);
  const dir = mkdtempSync(join(tmpdir(), 'fewstep-soak-'));
  const store = new NodeStore(dir);
  const state = (step: number) => ({
    step, modules: { online: net }, optimizer: opt, emas: { ema }, noise: { loss: noise, data }, losses: { ect: loss },
    metadata: { guard: guard.state() },
  });
  const t0 = Date.now();
  let lossSum = 0;
  console.log('step | loss (mean of last 100) | numTensors | numBytes | skipped | s/step');
  for (let step = 0; step < STEPS; step++) {
    // A smooth synthetic image batch (a Gaussian blob at a random position), drawn from seeded noise.
    const x = tf.tidy(() => {
      const pos = data.uniform([BATCH, 1, 1, 1], 1, 7);
      const grid = tf.range(0, 8).reshape([1, 8, 1, 1]);
      const row = tf.exp(tf.neg(tf.square(tf.sub(grid, pos))));
      return tf.sub(tf.mul(tf.mul(row, tf.transpose(row, [0, 2, 1, 3])), 2), 1);
    });
    const r = guard.step({ step, optimizer: opt, params: net, loss: () => loss.compute({ network: f, x, step, noise }).loss, clipNorm: 10 });
    x.dispose();
    if (!r.skipped) ema.update();
    lossSum += r.loss;
    const done = step + 1;
    if (done % CKPT_EVERY === 0) {
      const m = await saveCheckpoint(store, state(done), { keep: 2 });
      // Prove the checkpoint is usable: verify and load it back into the same objects (no-op values).
      const loaded = await loadCheckpoint(store, { modules: { online: net }, optimizer: opt, emas: { ema }, losses: { ect: loss } }, { name: m.name });
      noise = loaded.noise.loss!;
      data = loaded.noise.data!;
    }
    if (done % REPORT_EVERY === 0) {
      const mem = tf.memory();
      const perStep = (Date.now() - t0) / 1000 / done;
      console.log(`${done} | ${(lossSum / REPORT_EVERY).toFixed(4)} | ${mem.numTensors} | ${mem.numBytes} | ${guard.skipped} | ${perStep.toFixed(3)}`);
      lossSum = 0;
    }
  }
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s; checkpoints in ${dir} (removed)`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
