import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { linearTransport, seededNoise, type Network } from '@fewstep/core';
import { expectNoLeak } from '@fewstep/testing';
import {
  consistencyDistillationLoss,
  consistencyTrainingLoss,
  ectLoss,
  edmLoss,
  flowMatchingLoss,
  ictLoss,
  ucgmTrainer,
  type Loss,
} from '@fewstep/losses';
import { updateEma } from '@fewstep/core';

/** A tiny MLP on [B, D] with a time feature: enough to exercise every gradient path. */
function mlp(dim: number, hidden: number, seed: number): { net: Network; vars: tf.Variable[] } {
  const w1 = tf.variable(tf.randomNormal([dim + 1, hidden], 0, 0.3, 'float32', seed));
  const b1 = tf.variable(tf.zeros([hidden]));
  const w2 = tf.variable(tf.randomNormal([hidden, dim], 0, 0.3, 'float32', seed + 1));
  const net: Network = (x, t) =>
    tf.tidy(() => {
      const feat = tf.concat([x, tf.div(tf.log(tf.add(t, 1e-3)), 4).reshape([-1, 1])], 1);
      return tf.add(x, tf.matMul(tf.tanh(tf.add(tf.matMul(feat, w1), b1)), w2));
    });
  return { net, vars: [w1, b1, w2] };
}

/** 100 loss + gradient + optimiser steps per loss leave the number of live tensors unchanged. */
export function leakSuite(backend: string): void {
  describe(`no tensor leaks over 100 loss + gradient steps (${backend})`, () => {
    const cases: [string, () => Loss, boolean][] = [
      ['edm', () => edmLoss(), false],
      ['flow matching', () => flowMatchingLoss(), false],
      ['ct', () => consistencyTrainingLoss({ curriculum: { startScales: 10, endScales: 10 } }), false],
      ['cd heun', () => consistencyDistillationLoss({ curriculum: { startScales: 10, endScales: 10 } }), true],
      ['ict', () => ictLoss({ s0: 4, s1: 16, totalSteps: 100 }), false],
      ['ect', () => ectLoss({ stage: 1, c: 0.01 }), false],
    ];
    it.each(cases)('%s', async (_name, make, needsTeacher) => {
      const online = mlp(2, 8, 1);
      const target = mlp(2, 8, 1);
      const loss = make();
      const x = tf.randomNormal([8, 2], 0, 1, 'float32', 3);
      const noise = seededNoise(7);
      const opt = tf.train.adam(1e-3);
      // Warm-up step: Adam creates its slot variables once.
      opt.minimize(() => loss.compute({ network: online.net, teacher: target.net, x, noise }).loss, true, online.vars)?.dispose();
      await expectNoLeak(() => {
        for (let k = 0; k < 100; k++) {
          const ctx = { network: online.net, targetNetwork: target.net, teacher: needsTeacher ? target.net : undefined, x, noise, step: k };
          opt.minimize(() => loss.compute(ctx).loss, true, online.vars)?.dispose();
          updateEma(target.vars, online.vars, 0.9);
        }
      });
      opt.dispose();
      tf.dispose([x, ...online.vars, ...target.vars]);
    });

    it('ucgm-t (consistency ratio 0.5, EMA teacher, enhanced target, cosine loss)', async () => {
      const online = mlp(3, 8, 1);
      const teacher = mlp(3, 8, 5);
      const tr = ucgmTrainer({
        transport: linearTransport(), consistencyRatio: 0.5, emaDecayRate: 0.99, enhancedRatio: 1.5,
        scaledCblEps: 1, cosineLoss: true, weighting: 'cosine', teacherWeights: { online: online.vars, teacher: teacher.vars },
      });
      const x = tf.randomNormal([8, 3], 0, 1, 'float32', 3);
      const noise = seededNoise(7);
      const opt = tf.train.sgd(1e-3);
      await expectNoLeak(() => {
        for (let k = 0; k < 100; k++) {
          opt.minimize(() => tr.compute({ network: online.net, teacher: teacher.net, x, noise, step: k }).loss, true, online.vars)?.dispose();
        }
      });
      expect(tr.state().calls).toBe(100);
      opt.dispose();
      tf.dispose([x, ...online.vars, ...teacher.vars]);
    });
  });
}
