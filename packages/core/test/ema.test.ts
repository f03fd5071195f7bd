import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExponentialMovingAverage, fixedDecay, halfLifeDecay, powerDecay, updateEma } from '@fewstep/core';
import { expectGolden, expectNoLeak, toTensor, useTestBackend } from '@fewstep/testing';
import { golden } from './helpers';

beforeAll(useTestBackend);

describe('EMA', () => {
  it('cm_update_ema_rate095', async () => {
    const g = golden('cm_update_ema_rate095');
    const targets = [tf.variable(toTensor(g.inputs.target_0)), tf.variable(toTensor(g.inputs.target_1))];
    const sources = [toTensor(g.inputs.source_0), toTensor(g.inputs.source_1)];
    await expectNoLeak(() => updateEma(targets, sources, g.params.rate));
    expectGolden(g, 'target_0', targets[0]);
    expectGolden(g, 'target_1', targets[1]);
    tf.dispose([...targets, ...sources]);
  });

  it('the EMA of a constant is that constant, for every decay rule', () => {
    fc.assert(
      fc.property(fc.double({ min: -10, max: 10, noNaN: true }), fc.integer({ min: 1, max: 30 }), (c, steps) => {
        const v = tf.variable(tf.fill([3], c));
        for (const decay of [fixedDecay(0.9), halfLifeDecay({ halfLifeImages: 100, batchSize: 8, rampUp: 0.05 }), powerDecay(6.94)]) {
          const ema = new ExponentialMovingAverage([v], decay);
          for (let i = 0; i < steps; i++) ema.update();
          const got = ema.shadow[0].dataSync();
          got.forEach((x) => expect(x).toBeCloseTo(Math.fround(c), 4));
          expect(ema.updates).toBe(steps);
          ema.dispose();
        }
        v.dispose();
      }),
      { numRuns: 20, seed: 20261122 }, // a fixed seed: CI must be reproducible
    );
  });

  it('tracks a moving source with the stated decay, copies out, and leaks nothing', async () => {
    const v = tf.variable(tf.zeros([2]));
    const ema = new ExponentialMovingAverage([v], 0.5);
    await expectNoLeak(() => {
      tf.tidy(() => v.assign(tf.ones([2])));
      ema.update(); // 0.5*0 + 0.5*1
      tf.tidy(() => v.assign(tf.fill([2], 3)));
      ema.update(); // 0.5*0.5 + 0.5*3
    });
    expect(Array.from(ema.shadow[0].dataSync())).toEqual([1.75, 1.75]);
    const out = tf.variable(tf.zeros([2]));
    ema.copyTo([out]);
    expect(Array.from(out.dataSync())).toEqual([1.75, 1.75]);
    tf.dispose([v, out]);
    ema.dispose();
  });

  it('decay rules have their defining values', () => {
    // EDM: half-life 500k images, batch 512, no ramp-up: beta = 0.5^(512/500000)
    expect(halfLifeDecay({ halfLifeImages: 500_000, batchSize: 512 })(1)).toBeCloseTo(0.5 ** (512 / 500_000), 15);
    // with ramp-up 0.05 at update 10 (5120 images): half-life 256 images
    expect(halfLifeDecay({ halfLifeImages: 500_000, batchSize: 512, rampUp: 0.05 })(10)).toBeCloseTo(0.5 ** 2, 15);
    expect(powerDecay(6.94)(1)).toBe(0);
    expect(powerDecay(6.94)(100)).toBeCloseTo(0.99 ** 7.94, 12);
  });

  it('rejects bad input', () => {
    const v = tf.variable(tf.zeros([2]));
    expect(() => updateEma([v], [tf.zeros([3])], 0.5)).toThrow(/sources\[0\] must have the shape of targets\[0\]/);
    expect(() => updateEma([v], [], 0.5)).toThrow(/sources must be an array of 1 tensors/);
    expect(() => updateEma([v], [v], 1.5)).toThrow(/rate must be a number >= 0 and <= 1, got 1.5/);
    expect(() => new ExponentialMovingAverage([], 0.9)).toThrow(/sources must be a non-empty array/);
    expect(() => fixedDecay(Number.NaN)).toThrow(/beta/);
    expect(() => halfLifeDecay({ halfLifeImages: 0, batchSize: 1 })).toThrow(/halfLifeImages/);
    const ema = new ExponentialMovingAverage([v], () => 2);
    expect(() => ema.update()).toThrow(/decay must lie in \[0, 1\], got 2 at update 1/);
    ema.dispose();
    v.dispose();
  });
});
