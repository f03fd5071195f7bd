import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, seededNoise, type Network } from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { assertFiniteLoss, edmLoss, reduceLoss, withFiniteCheck, withoutGradient, type Loss } from '@fewstep/losses';

beforeAll(async () => {
  await useTestBackend();
});

describe('the Loss contract', () => {
  it('optimizer.minimize(() => loss.compute(ctx).loss) trains, and the loss goes down', () => {
    const w = tf.variable(tf.scalar(0));
    // A denoiser D(x, sigma) = w x: EDM's loss is minimised near the data-dependent optimum w > 0.
    const D: Network = (x) => tf.mul(w, x);
    const x = tf.randomNormal([64, 2], 0, 0.5, 'float32', 1);
    const loss = edmLoss();
    const opt = tf.train.adam(0.05);
    const at = (seed: number) => tf.tidy(() => loss.compute({ network: D, x, noise: seededNoise(seed) }).loss.dataSync()[0]);
    const before = at(99);
    for (let k = 0; k < 60; k++) opt.minimize(() => loss.compute({ network: D, x, noise: seededNoise(k), step: k }).loss)?.dispose();
    expect(at(99)).toBeLessThan(before);
    opt.dispose();
    tf.dispose([w, x]);
  });

  it('withoutGradient makes a constant: no gradient reaches variables read inside it', () => {
    const v = tf.variable(tf.scalar(3));
    const { grads, value } = tf.variableGrads(() => {
      const target = withoutGradient(() => tf.mul(v, tf.greater(v, 0).cast('float32'))); // comparison ops are safe inside
      return tf.sum(tf.square(tf.sub(v, tf.mul(target, 0.5)))) as tf.Scalar;
    }, [v]);
    // d/dv (v - 0.5 * stopgrad(v))^2 = 2 (v - 1.5) = 3
    expect(grads[v.name].dataSync()[0]).toBeCloseTo(3, 6);
    tf.dispose([v, value, ...Object.values(grads)]);
  });

  it('a non-finite loss is reported with the offending sample indices', async () => {
    const bad: Network = (x) => tf.tidy(() => tf.div(x, tf.tile(tf.tensor2d([[1], [0], [1], [0]]), [1, 2])));
    const x = tf.ones([4, 2]);
    const loss = withFiniteCheck(edmLoss());
    expect(() => loss.compute({ network: bad, x, noise: seededNoise(0) })).toThrow(/sample indices 1 \(.*\), 3 \(/);
    await expectNoLeak(() => {
      try {
        loss.compute({ network: bad, x, noise: seededNoise(0) });
      } catch (e) {
        expect(e).toBeInstanceOf(FewstepError);
      }
    });
    const ok = tf.tensor1d([1, 2]);
    expect(() => assertFiniteLoss('t', ok)).not.toThrow();
    tf.dispose([x, ok]);
  });

  it('reductions are explicit', () => {
    const p = tf.tensor1d([1, 2, 3]);
    expect(reduceLoss(p, 'mean').dataSync()[0]).toBe(2);
    expect(reduceLoss(p, 'sum').dataSync()[0]).toBe(6);
    expect(() => reduceLoss(p, 'max' as never)).toThrow(FewstepError);
    const m = tf.zeros([2, 2]);
    expect(() => reduceLoss(m as unknown as tf.Tensor1D)).toThrow(FewstepError);
    tf.dispose([p, m]);
  });
});

/**
 * EXAMPLE: a user-defined loss, written only against the public API (core helpers + the Loss
 * contract). A Huber-weighted flow-matching variant: rectified flow with logit-normal times and a
 * pseudo-Huber distance, weighted towards the middle of the path. It is first-class: the same
 * loop, gradients, leak checks and wrappers (withFiniteCheck) apply.
 */
import { linearTransport, logitNormalTimes, mixAt, nativeTarget } from '@fewstep/core';
import { checkContext, forwardOptions, pseudoHuberDistance } from '@fewstep/losses';

function huberFlowMatching(opts: { c?: number } = {}): Loss {
  const transport = linearTransport();
  const times = logitNormalTimes();
  const distance = pseudoHuberDistance({ c: opts.c ?? 0.03, over: 'sum' });
  return {
    name: 'huber-flow-matching',
    compute(ctx) {
      const { batch } = checkContext('huberFlowMatching', ctx);
      return tf.tidy(() => {
        const t = times.sample(ctx.noise, batch);
        const z = ctx.noise.normal(ctx.x.shape);
        const F = ctx.network(mixAt(transport, ctx.x, z, t), t, forwardOptions(ctx));
        const weight = tf.mul(4, tf.mul(t, tf.sub(1, t))); // 1 at t = 1/2
        const perSample = tf.mul(distance(F, nativeTarget(transport, ctx.x, z, t)), weight) as tf.Tensor1D;
        return { loss: tf.mean(perSample) as tf.Scalar, perSample, stats: { t, weight } };
      });
    },
  };
}

describe('a user-defined loss (example)', () => {
  it('trains a velocity field with optimizer.minimize, leaks nothing, and composes with withFiniteCheck', async () => {
    const w = tf.variable(tf.zeros([3, 2]));
    // v(x_t, t) = [x_t, t] W: a linear velocity model.
    const net: Network = (xt, t) => tf.matMul(tf.concat([xt, t.reshape([-1, 1])], 1), w);
    const x = tf.randomNormal([64, 2], 1, 0.1, 'float32', 3);
    const loss = withFiniteCheck(huberFlowMatching());
    const opt = tf.train.adam(0.05);
    const evalLoss = () => tf.tidy(() => loss.compute({ network: net, x, noise: seededNoise(1234) }).loss.dataSync()[0]);
    const before = evalLoss();
    opt.minimize(() => loss.compute({ network: net, x, noise: seededNoise(0) }).loss)?.dispose(); // Adam makes its slots once
    await expectNoLeak(() => {
      for (let k = 1; k < 80; k++) opt.minimize(() => loss.compute({ network: net, x, noise: seededNoise(k) }).loss)?.dispose();
    });
    expect(evalLoss()).toBeLessThan(0.7 * before);
    opt.dispose();
    tf.dispose([w, x]);
  });
});

describe('argument errors of the helpers', () => {
  it('withoutGradient, checkContext, flowMatchingLoss and bilinearResize name the bad argument', async () => {
    const { flowMatchingLoss, bilinearResize } = await import('@fewstep/losses');
    expect(() => withoutGradient(3 as never)).toThrow(/fn must be a function/);
    expect(() => checkContext('t', { network: (v: tf.Tensor) => v, x: tf.zeros([0, 2]), noise: seededNoise(0) })).toThrow(/non-empty/);
    const xi = tf.zeros([2, 2], 'int32');
    expect(() => checkContext('t', { network: (v: tf.Tensor) => v, x: xi, noise: seededNoise(0) })).toThrow(/float32/);
    expect(() => flowMatchingLoss({ transport: {} as never })).toThrow(/transport/);
    expect(() => flowMatchingLoss({ distance: 'l2' as never })).toThrow(/distance/);
    expect(() => flowMatchingLoss({ reduction: 'max' as never })).toThrow(FewstepError);
    const x3 = tf.zeros([2, 2, 2]);
    expect(() => bilinearResize(x3, 4)).toThrow(/rank 4/);
    tf.dispose([xi, x3]);
  });
});

describe('assertFiniteLossAsync', () => {
  it('reports the same samples as assertFiniteLoss, with await data()', async () => {
    const { assertFiniteLossAsync } = await import('@fewstep/losses');
    const bad = tf.tensor1d([1, NaN, 2, Infinity]);
    const ok = tf.tensor1d([1, 2]);
    let syncMessage = '';
    try {
      assertFiniteLoss('edm', bad);
    } catch (e) {
      syncMessage = (e as Error).message;
    }
    expect(syncMessage).toBe('edm: loss must be finite, got non-finite per-sample values at sample indices 1 (NaN), 3 (Infinity)');
    await expect(assertFiniteLossAsync('edm', bad)).rejects.toThrow(syncMessage);
    await expect(assertFiniteLossAsync('edm', bad)).rejects.toBeInstanceOf(FewstepError);
    await expect(expectNoLeak(() => assertFiniteLossAsync('edm', ok))).resolves.toBeUndefined();
    tf.dispose([bad, ok]);
  });

  it('on webgpu the synchronous check and withFiniteCheck throw naming the async route, computing nothing', async () => {
    const { asAsyncOnlyBackend } = await import('@fewstep/testing');
    const p = tf.tensor1d([1]);
    await asAsyncOnlyBackend(() => {
      expect(() => assertFiniteLoss('edm', p)).toThrow(/assertFiniteLoss: backend must allow synchronous reads .*use await assertFiniteLossAsync\(where, perSample\) instead/);
      let calls = 0;
      const loss = withFiniteCheck({ name: 'mine', compute: () => (calls++, {} as never) });
      expect(() => loss.compute({} as never)).toThrow(/withFiniteCheck\(mine\): .*StepGuard.stepAsync/);
      expect(calls).toBe(0);
    });
    p.dispose();
  });
});
