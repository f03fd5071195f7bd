import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { FewstepError, linearTransport, seededNoise, type Network } from '@fewstep/core';
import { classifierFreeGuidance, edmSampler, sample, ucgmSampler } from '@fewstep/samplers';

beforeAll(useTestBackend);

/** A class-conditional Gaussian denoiser: class k has mean mu[k] (the null class 2 has mean 0). */
const MU = [1, -1, 0];
function conditional(calls: number[]): Network {
  return (x, sigma, opts) =>
    tf.tidy(() => {
      calls.push(x.shape[0]);
      const labels = opts?.classLabels;
      if (!labels) throw new Error('unconditional call');
      const mu = tf.gather(tf.tensor1d(MU), labels.toInt()).reshape([-1, 1]);
      const s2 = tf.square(sigma).reshape([-1, 1]);
      return tf.add(mu, tf.mul(tf.div(0.25, tf.add(0.25, s2)), tf.sub(x, mu)));
    });
}

describe('classifierFreeGuidance', () => {
  it('makes one batched network call per evaluation and returns uncond + w (cond - uncond)', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const calls: number[] = [];
    const w = 3;
    const guided = edmSampler({ steps: 4, solver: 'euler', modifiers: [classifierFreeGuidance({ scale: w, nullClass: 2 })] });
    const latents = tf.tensor2d([0.3, -0.7], [2, 1]);
    const before = tf.memory().numTensors;
    const out = sample(guided, { network: conditional(calls), latents, networkOptions: { classLabels: labels } });
    expect(tf.memory().numTensors).toBe(before + 1); // only the result
    expect(calls).toEqual([4, 4, 4, 4]); // 4 Euler steps, each one call on the doubled batch

    // The same run with the guided denoiser written by hand: D = Du + w (Dc - Du).
    const byHand: Network = (x, sigma) =>
      tf.tidy(() => {
        const c = conditional([])(x, sigma, { classLabels: labels });
        const u = conditional([])(x, sigma, { classLabels: tf.tensor1d([2, 2], 'int32') });
        return tf.add(u, tf.mul(tf.sub(c, u), w));
      });
    const want = sample(edmSampler({ steps: 4, solver: 'euler' }), { network: byHand, latents });
    const a = out.dataSync();
    const b = want.dataSync();
    for (let i = 0; i < 2; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    tf.dispose([out, want, latents, labels]);
  });

  it('scale 1 is the conditional model; outside the interval only the conditional half runs', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const T = linearTransport();
    const net: Network = (x, t, opts) => tf.tidy(() => tf.add(tf.mul(x, 0.5), tf.mul(opts!.classLabels!.toFloat().reshape([-1, 1]), t.reshape([-1, 1]))));
    const calls: number[] = [];
    const counting: Network = (x, t, o) => (calls.push(x.shape[0]), net(x, t, o));
    const plain = sample(ucgmSampler({ transport: T, steps: 3 }), { network: net, shape: [2, 1], noise: seededNoise(2), networkOptions: { classLabels: labels } });
    const one = sample(ucgmSampler({ transport: T, steps: 3, modifiers: [classifierFreeGuidance({ scale: 1, nullClass: 2 })] }), {
      network: net,
      shape: [2, 1],
      noise: seededNoise(2),
      networkOptions: { classLabels: labels },
    });
    const pa = plain.dataSync();
    const oa = one.dataSync();
    for (let i = 0; i < 2; i++) expect(oa[i]).toBeCloseTo(pa[i], 5);
    sample(ucgmSampler({ transport: T, steps: 3, modifiers: [classifierFreeGuidance({ scale: 4, nullClass: 2, interval: [0, 0.5] })] }), {
      network: counting,
      shape: [2, 1],
      networkOptions: { classLabels: labels },
    }).dispose();
    // Grid 0.999, 0.5, 0.001 (then 0): the first step is outside [0, 0.5], the others inside.
    expect(calls).toEqual([2, 4, 4]);
    tf.dispose([plain, one, labels]);
  });

  it('guidance without a conditional network (no labels) or without a null class raises FewstepError', () => {
    const before = tf.memory().numTensors;
    const s = edmSampler({ steps: 2, modifiers: [classifierFreeGuidance({ scale: 2, nullClass: 2 })] });
    expect(() => sample(s, { network: conditional([]), shape: [2, 1] })).toThrow(FewstepError);
    expect(() => sample(s, { network: conditional([]), shape: [2, 1] })).toThrow(/guidance needs a conditional network/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => classifierFreeGuidance({ scale: 2 })).toThrow(/nullClass/);
    expect(() => classifierFreeGuidance({ scale: NaN, nullClass: 0 })).toThrow(/scale/);
    const cond = tf.ones([2, 3]);
    const s2 = edmSampler({ steps: 2, modifiers: [classifierFreeGuidance({ scale: 2, nullClass: 2 })] });
    expect(() => sample(s2, { network: conditional([]), shape: [2, 1], networkOptions: { cond } })).toThrow(/no unconditional value for networkOptions.cond/);
    cond.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
