import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, RAdam, clipByGlobalNorm, constantLr, cosineLr, inverseSqrtLr, stopGradient, warmupLr } from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

/** Scalar reference of PyTorch's RAdam / AdamW update rules in float64, written from the papers. */
function referenceRun(kind: 'radam' | 'adamw', grads: number[], p0: number, lr: number, wd: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  let [p, m, v] = [p0, 0, 0];
  const out: number[] = [];
  grads.forEach((gFn, i) => {
    const t = i + 1;
    const g = gFn * p; // gradient of gFn/2 p^2
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const mHat = m / (1 - b1 ** t);
    if (kind === 'adamw') p -= (lr * mHat) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
    else {
      const rhoInf = 2 / (1 - b2) - 1;
      const rhoT = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
      if (rhoT > 5) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        p -= lr * mHat * rect * (Math.sqrt(1 - b2 ** t) / (Math.sqrt(v) + eps));
      } else p -= lr * mHat;
    }
    out.push(p);
  });
  return out;
}

describe('optimizers', () => {
  for (const kind of ['radam', 'adamw'] as const) {
    it(`${kind} follows its update rule on a quadratic (incl. the RAdam warm-up switch at step 6)`, async () => {
      const curv = [1, 2, 0.5, 3, 1, 1, 2, 0.7, 1.3, 2.2];
      const lr = 0.05;
      const wd = kind === 'adamw' ? 0.1 : 0;
      const want = referenceRun(kind, curv, 1.5, lr, wd);
      const p = tf.variable(tf.scalar(1.5), true, `opt_${kind}`);
      const opt = kind === 'radam' ? new RAdam({ learningRate: lr }) : new AdamW({ learningRate: lr, weightDecay: wd });
      const stepOnce = (c: number) => opt.minimize(() => tf.mul(tf.square(p), c / 2) as tf.Scalar);
      stepOnce(curv[0]); // allocates the moments (optimizer state, owned by the optimizer)
      await expectNoLeak(() => curv.slice(1).forEach(stepOnce));
      expect(p.dataSync()[0]).toBeCloseTo(want[want.length - 1], 5);
      // state round-trips through getWeights / setWeights
      const weights = await opt.getWeights();
      const copy = kind === 'radam' ? new RAdam({ learningRate: lr }) : new AdamW({ learningRate: lr, weightDecay: wd });
      await copy.setWeights(weights);
      expect(copy.step).toBe(curv.length);
      opt.dispose();
      copy.dispose();
      p.dispose();
    });
  }

  it('rejects bad hyper-parameters', () => {
    expect(() => new RAdam({ beta2: 1 })).toThrow(/RAdam: beta2 must be a number >= 0 and < 1, got 1/);
    expect(() => new AdamW({ learningRate: -1 })).toThrow(/learningRate/);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to the maximum norm on the device and returns the norm before clipping', async () => {
    const grads = { a: tf.tensor([3, 0]), b: tf.tensor([4]) };
    await expectNoLeak(() => clipByGlobalNorm(grads, 1)); // grads and norm, all caller-owned
    const r = clipByGlobalNorm(grads, 1);
    expect((await r.norm.data())[0]).toBeCloseTo(5, 6);
    expect(Array.from(await r.grads.a.data())).toEqual([expect.closeTo(0.6, 5), 0]);
    expect((await r.grads.b.data())[0]).toBeCloseTo(0.8, 5);
    const loose = clipByGlobalNorm(grads, 10);
    expect((await loose.grads.b.data())[0]).toBe(4);
    // a non-finite norm is reported and the gradients are left unscaled (the guard decides)
    const inf = { a: tf.tensor([Infinity, 1]) };
    const rInf = clipByGlobalNorm(inf, 1);
    expect((await rInf.norm.data())[0]).toBe(Infinity);
    expect(Array.from(await rInf.grads.a.data())).toEqual([Infinity, 1]);
    expect(() => clipByGlobalNorm(grads, 0)).toThrow(/maxNorm must be a number > 0/);
    tf.dispose([r, loose, rInf, grads, inf] as unknown as tf.TensorContainer);
  });
});

describe('learning-rate schedules', () => {
  it('have their defining values', () => {
    expect(constantLr(0.1)(100)).toBe(0.1);
    expect(warmupLr(1, 4)(0)).toBe(0.25);
    expect(warmupLr(1, 4)(10)).toBe(1);
    const cos = cosineLr({ lr: 1, totalSteps: 11, warmupSteps: 1, minLr: 0 });
    expect(cos(0)).toBe(1);
    expect(cos(6)).toBeCloseTo(0.5, 12);
    expect(cos(11)).toBeCloseTo(0, 12);
    expect(inverseSqrtLr({ lr: 1, refSteps: 100 })(400)).toBe(0.5);
    expect(() => warmupLr(1, 2)(-1)).toThrow(/step must be an integer >= 0/);
    expect(() => cosineLr({ lr: 1, totalSteps: 10, minLr: 2 })).toThrow(/minLr/);
  });
});

describe('stopGradient', () => {
  it('is the identity forward and blocks the gradient', async () => {
    const x = tf.variable(tf.tensor([1, 2, 3]), true, 'sg_x');
    const { value, grads } = await expectNoLeak(
      () => tf.variableGrads(() => tf.sum(tf.add(tf.mul(x, 2), tf.square(stopGradient(x)))) as tf.Scalar, [x]),
      (r) => tf.dispose([r.value, ...Object.values(r.grads)]),
    ).then(() => tf.variableGrads(() => tf.sum(tf.add(tf.mul(x, 2), tf.square(stopGradient(x)))) as tf.Scalar, [x]));
    expect(value.dataSync()[0]).toBe(2 * 6 + 14);
    expect(Array.from(grads[x.name].dataSync())).toEqual([2, 2, 2]);
    tf.dispose([value, grads[x.name], x]);
    expect(() => stopGradient([1] as never)).toThrow(/x must be a tensor/);
  });
});
