import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, toTensor, useTestBackend } from '@fewstep/testing';
import { replayNoise, transportByName } from '@fewstep/core';
import { sampleSteps, ucgmSampler } from '@fewstep/samplers';
import { FIXTURES, golden, recording, ucgmGaussModel } from './helpers';

beforeAll(useTestBackend);

const files = readdirSync(FIXTURES).filter((f) => f.startsWith('ucgm_sample_'));

function runCase(name: string): void {
  const g = golden(name);
  const p = g.params;
  const T = transportByName(p.transport);
  const rec = recording(ucgmGaussModel(T, p.model.mu, p.model.s));
  const stepNoise = g.inputs.step_noise;
  const per = stepNoise.shape.slice(1).reduce((a, b) => a * b, 1);
  const draws = Array.from({ length: stepNoise.shape[0] }, (_, k) => ({
    kind: 'normal' as const,
    data: stepNoise.data.slice(k * per, (k + 1) * per),
  }));
  const noise = replayNoise(draws);
  const sampler = ucgmSampler({
    transport: T,
    steps: p.sampling_steps,
    order: p.sampling_order,
    extrapolation: p.extrapol_ratio,
    stochasticity: p.stochast_ratio === 'Auto' ? 'auto' : p.stochast_ratio,
    kumaraswamy: p.time_dist_ctrl,
    gaps: p.rfba_gap_steps,
  });
  const z = toTensor(g.inputs.z);
  const samples: tf.Tensor[] = [z];
  let result: tf.Tensor | undefined;
  for (const ev of sampleSteps(sampler, { network: rec.net, latents: z, noise })) {
    const kept = ev.keep();
    samples.push(kept.xHat);
    tf.dispose([kept.x, kept.zHat]);
    if (ev.index === ev.steps - 1) result = ev.sample();
  }
  const stacked = tf.stack(samples);
  try {
    expectGolden(g, 'samples', stacked);
    expectGolden(g, 'model_t', rec.times);
    expect(noise.remaining()).toBe(0);
    // The returned sample is the last data estimate.
    expect(Array.from(result!.dataSync())).toEqual(Array.from(samples[samples.length - 1].dataSync()));
  } finally {
    tf.dispose([stacked, result!, ...samples]);
  }
}

describe('UCGM-S goldens (unigen:uni_sample)', () => {
  it(`matches all ${files.length} ucgm_sample_* cases (every returned sample and every model time)`, () => {
    expect(files.length).toBe(442);
    const before = tf.memory().numTensors;
    const failures: string[] = [];
    for (const f of files) {
      try {
        runCase(f);
      } catch (e) {
        failures.push(`${f}: ${(e as Error).message}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
