/**
 * Example: a custom sampler in a few lines, from a core grid, a step rule and a modifier of your own.
 * (Referenced from the package README.)
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { linearTransport, seededNoise, uniformTimes } from '@fewstep/core';
import { defineSampler, mapDataEstimate, sample, sampleSteps, ucgmSampler, ucgmStep, type Modifier } from '@fewstep/samplers';
import { ucgmGaussModel } from './helpers';

beforeAll(useTestBackend);

/** A user modifier: "static thresholding" of the data estimate to [-limit, limit] (zHat follows). */
const threshold = (limit: number): Modifier => mapDataEstimate(`threshold(${limit})`, (xHat) => tf.clipByValue(xHat, -limit, limit));

it('composes grid x step rule x user modifier', () => {
  const transport = linearTransport(); // rectified flow: t = 1 is noise, t = 0 is data
  const network = ucgmGaussModel(transport, [0.8], 0.6); // any (x, t) => F network

  // The whole sampler: 8 evenly spaced steps from t = 1 to 0, UCGM's DDIM step, our modifier.
  const mySampler = defineSampler({
    name: 'ddim-thresholded',
    transport,
    grid: uniformTimes(9, 1, 0),
    rule: ucgmStep({ order: 1, stochasticity: 0 }),
    modifiers: [threshold(1)],
  });

  const before = tf.memory().numTensors;
  const xHats: number[] = [];
  for (const ev of sampleSteps(mySampler, { network, shape: [64, 1], noise: seededNoise(7) })) {
    xHats.push(Math.max(...ev.xHat.dataSync())); // progress: largest data estimate per step
  }
  expect(xHats.length).toBe(8);
  expect(Math.max(...xHats)).toBeLessThanOrEqual(1);
  expect(tf.memory().numTensors).toBe(before);

  // Without the modifier, the same grid and rule is UCGM-S with no gaps: the two agree.
  const plain = sample(defineSampler({ name: 'ddim', transport, grid: uniformTimes(9, 1, 0), rule: ucgmStep() }), {
    network,
    shape: [64, 1],
    noise: seededNoise(7),
  });
  const ucgm = sample(ucgmSampler({ transport, steps: 8, gaps: [0, 0] }), { network, shape: [64, 1], noise: seededNoise(7) });
  const a = plain.dataSync();
  const b = ucgm.dataSync();
  for (let i = 0; i < 64; i++) expect(a[i]).toBeCloseTo(b[i], 5);
  const thresholded = sample(mySampler, { network, shape: [64, 1], noise: seededNoise(7) });
  expect(Math.max(...thresholded.dataSync())).toBeLessThanOrEqual(1 + 1e-6);
  expect(Math.max(...a)).toBeGreaterThan(1); // the data N(0.8, 0.6^2) does exceed 1
  tf.dispose([plain, ucgm, thresholded]);
});
