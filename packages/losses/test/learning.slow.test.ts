import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  consistencyPreconditioning,
  ectPreconditioning,
  edmPreconditioning,
  precondition,
  seededNoise,
  type Network,
} from '@fewstep/core';
import { useTestBackend } from '@fewstep/testing';
import { consistencyDistillationLoss, consistencyTrainingLoss, ectLoss, edmLoss, type Loss, type LossContext } from '@fewstep/losses';
import { updateEma } from '@fewstep/core';
import { heunSample, mixture, mlp, oneStep, slicedWasserstein, type Mlp } from './toy';

/**
 * Learning tests on a 2-D mixture (slow: several minutes on the 2-core cpu backend; run with
 * `npm run test:losses:slow`): EDM learns the data; ECT, CD and CT
 * tuned from it give 1-step samples, compared by sliced Wasserstein distance (SWD) to held-out data.
 */
const N_EVAL = 1000;
const HIDDEN = 32;
const SLOW = { timeout: 900_000 };
const results: Record<string, number> = {};
let teacherNet: Mlp;
let data: tf.Tensor2D;
let heldOut: tf.Tensor2D;
let z: tf.Tensor;

beforeAll(async () => {
  await useTestBackend();
  data = mixture(4096, 1);
  heldOut = mixture(N_EVAL, 2);
  z = tf.randomNormal([N_EVAL, 2], 0, 1, 'float32', 3);
  teacherNet = mlp(HIDDEN, 10);
});

afterAll(() => {
  console.log('2-D learning results (SWD to held-out data):', JSON.stringify(results));
  tf.dispose([data, heldOut, z]);
  teacherNet.dispose();
});

async function train(loss: Loss, vars: tf.Variable[], steps: number, lr: number | ((k: number) => number), ctx: (k: number, x: tf.Tensor) => Omit<LossContext, 'noise'>, after?: (k: number) => void): Promise<number[]> {
  const t0 = Date.now();
  const lrAt = typeof lr === 'number' ? () => lr : lr;
  let opt = tf.train.adam(lrAt(0));
  const noise = seededNoise(11);
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    if (k > 0 && lrAt(k) !== lrAt(k - 1)) {
      opt.dispose();
      opt = tf.train.adam(lrAt(k));
    }
    const x = tf.tidy(() => tf.gather(data, tf.randomUniform([256], 0, data.shape[0], 'int32', 1000 + k)));
    const v = opt.minimize(() => loss.compute({ ...ctx(k, x), noise }).loss, true, vars);
    losses.push(v!.dataSync()[0]);
    tf.dispose([v!, x]);
    after?.(k);
    // Long synchronous loops starve vitest's worker RPC ("Timeout calling onTaskUpdate"): yield now and then.
    if (k % 25 === 0) await new Promise((r) => setImmediate(r));
  }
  opt.dispose();
  results[`seconds_${loss.name}`] = Math.round((Date.now() - t0) / 100) / 10;
  return losses;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const swdOf = (samples: tf.Tensor) => {
  const s = slicedWasserstein(samples, heldOut);
  samples.dispose();
  return s;
};

describe('2-D learning', () => {
  it('EDM: a small MLP learns the mixture (18-step Heun samples close to the data)', SLOW, async () => {
    const D = precondition(teacherNet.raw, edmPreconditioning());
    results.untrainedHeun = swdOf(heunSample(D, z));
    await train(edmLoss(), teacherNet.vars, 1500, 3e-3, (k, x) => ({ network: D, x, step: k }));
    results.teacherHeun18 = swdOf(heunSample(D, z));
    results.dataFloor = slicedWasserstein(mixture(N_EVAL, 77), heldOut);
    expect(results.teacherHeun18).toBeLessThan(0.3 * results.untrainedHeun);
    expect(results.teacherHeun18).toBeLessThan(0.08);
  });

  it('ECT tuned from the EDM teacher: 1-step SWD within 1.5x of the teacher 18-step Heun SWD', SLOW, async () => {
    const student = mlp(HIDDEN, 10);
    const ema = mlp(HIDDEN, 10); // ECT samples with an evaluation EMA of the weights (ema_beta)
    student.copyFrom(teacherNet);
    ema.copyFrom(teacherNet);
    const fTrain = precondition(student.raw, ectPreconditioning({ mode: 'train' }));
    const fEval = precondition(ema.raw, ectPreconditioning({ mode: 'eval' }));
    results.ectUntuned1step = swdOf(oneStep(fEval, z));
    // Toy settings: more mass at large t (pMean 1.0), a stage every 150 steps up to stage 6, c = 0.01.
    const loss = ectLoss({ pMean: 1.0, pStd: 2.0, c: 0.01, stage: (k) => Math.min(Math.floor(k / 150), 6) });
    const lr = (k: number) => (k < 2000 ? 3e-3 : 1e-3);
    await train(loss, student.vars, 3000, lr, (k, x) => ({ network: fTrain, x, step: k }), () => updateEma(ema.vars, student.vars, 0.995));
    results.ect1step = swdOf(oneStep(fEval, z));
    student.dispose();
    ema.dispose();
    expect(results.ect1step).toBeLessThan(1.5 * results.teacherHeun18);
  });

  for (const mode of ['cd', 'ct'] as const) {
    it(`${mode.toUpperCase()} from the teacher: the loss goes down and 1-step samples beat the untuned network`, SLOW, async () => {
      const pre = consistencyPreconditioning({ noiseLabel: 'edm' });
      const student = mlp(HIDDEN, 10);
      const target = mlp(HIDDEN, 10);
      student.copyFrom(teacherNet);
      target.copyFrom(teacherNet);
      const f = precondition(student.raw, pre);
      const fTarget = precondition(target.raw, pre);
      const teacher: Network = precondition(teacherNet.raw, edmPreconditioning());
      const untuned = swdOf(oneStep(f, z));
      const curriculum = { startScales: 18, endScales: 18, startEma: 0.95 };
      const loss = mode === 'cd' ? consistencyDistillationLoss({ curriculum }) : consistencyTrainingLoss({ curriculum });
      const losses = await train(loss, student.vars, 400, 1e-3, (k, x) => ({ network: f, targetNetwork: fTarget, teacher, x, step: k }), (k) =>
        updateEma(target.vars, student.vars, loss.schedule(k).targetEma),
      );
      const tuned = swdOf(oneStep(f, z));
      results[`${mode}Untuned1step`] = untuned;
      results[`${mode}1step`] = tuned;
      results[`${mode}LossFirst50`] = mean(losses.slice(0, 50));
      results[`${mode}LossLast50`] = mean(losses.slice(-50));
      student.dispose();
      target.dispose();
      expect(mean(losses.slice(-50))).toBeLessThan(mean(losses.slice(0, 50)));
      expect(tuned).toBeLessThan(untuned);
    });
  }
});
