import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FewstepError, RAdam } from '@fewstep/core';
import { MLP } from '@fewstep/nn';
import { asAsyncOnlyBackend, expectNoLeak, useTestBackend } from '@fewstep/testing';
import { StepGuard } from '@fewstep/train';

beforeAll(async () => {
  await useTestBackend();
});

/** loss = sum(a * x) + sum(sqrt(b)): x = NaN poisons the loss, b = 0 only b's gradient (1 / (2 sqrt 0) = inf). */
function setup() {
  const params = { a: tf.variable(tf.tensor([1, 2])), b: tf.variable(tf.tensor([1, 4])) };
  const opt = new RAdam({ learningRate: 0.1 });
  const lossWith = (x: number) => () => tf.tidy(() => tf.add(tf.sum(tf.mul(params.a, x)), tf.sum(tf.sqrt(params.b))) as tf.Scalar);
  return { params, opt, lossWith };
}

describe('StepGuard', () => {
  it('applies finite steps, skips non-finite ones without touching parameters or optimizer, then resets', () => {
    const { params, opt, lossWith } = setup();
    const guard = new StepGuard({ maxConsecutive: 3 });
    const r0 = guard.step({ step: 0, optimizer: opt, params, loss: lossWith(1) });
    expect(r0).toEqual({ loss: 6, skipped: false });
    expect(opt.step).toBe(1);
    const a = Array.from(params.a.dataSync());
    const r1 = guard.step({ step: 1, optimizer: opt, params, loss: lossWith(NaN) });
    expect(r1.skipped).toBe(true);
    expect(r1.nonFinite).toBe('loss');
    expect(Number.isNaN(r1.loss)).toBe(true);
    expect(Array.from(params.a.dataSync())).toEqual(a);
    expect(opt.step).toBe(1);
    expect(guard.consecutive).toBe(1);
    guard.step({ step: 2, optimizer: opt, params, loss: lossWith(1) });
    expect(guard.consecutive).toBe(0);
    expect(guard.skipped).toBe(1);
    expect(guard.events).toEqual([{ step: 1, tensor: 'loss', loss: NaN }]);
    expect(opt.step).toBe(2);
    tf.dispose(Object.values(params));
    opt.dispose();
  });

  it('a finite loss with a non-finite gradient is skipped and the parameter named', () => {
    const { params, opt, lossWith } = setup();
    params.b.assign(tf.tensor([0, 4]));
    const guard = new StepGuard({ maxConsecutive: 2 });
    const r = guard.step({ step: 10, optimizer: opt, params, loss: lossWith(1) });
    expect(r).toEqual({ loss: 5, skipped: true, nonFinite: 'b' });
    expect(Array.from(params.b.dataSync())).toEqual([0, 4]);
    const err = (() => {
      try {
        guard.step({ step: 11, optimizer: opt, params, loss: lossWith(1) });
      } catch (e) {
        return e as FewstepError;
      }
    })();
    expect(err).toBeInstanceOf(FewstepError);
    expect(err!.message).toMatch(/2 consecutive non-finite steps ending at step 11; first non-finite tensor: the gradient of b \(2 step\(s\) skipped in total\)/);
    expect(err!.argument).toBe('b');
    tf.dispose(Object.values(params));
    opt.dispose();
  });

  it('throws after K consecutive NaN losses naming the step and "loss"', () => {
    const { params, opt, lossWith } = setup();
    const guard = new StepGuard({ maxConsecutive: 4 });
    for (let s = 0; s < 3; s++) guard.step({ step: s, optimizer: opt, params, loss: lossWith(Infinity) });
    expect(() => guard.step({ step: 3, optimizer: opt, params, loss: lossWith(NaN) })).toThrow(/4 consecutive non-finite steps ending at step 3; first non-finite tensor: the loss \(NaN\)/);
    tf.dispose(Object.values(params));
    opt.dispose();
  });

  it('names Module parameters by their dotted names, clips, and leaks nothing', async () => {
    const net = new MLP({ dim: 2, hiddenChannels: 8, numLayers: 2, embeddingChannels: 8 });
    const opt = new RAdam();
    const guard = new StepGuard();
    const x = tf.tensor([[1, 2]]);
    const t = tf.tensor([0.5]);
    const loss = (poison: number) => () => tf.tidy(() => tf.sum(tf.mul(net.forward(x, t), poison)).add(tf.sum(tf.sqrt(tf.abs(net.outProj.bias!)))) as tf.Scalar);
    guard.step({ step: 0, optimizer: opt, params: net, loss: loss(1) }); // creates the optimizer moments
    await expectNoLeak(() => guard.step({ step: 1, optimizer: opt, params: net, loss: loss(1), clipNorm: 0.1 }));
    await expectNoLeak(() => guard.step({ step: 2, optimizer: opt, params: net, loss: loss(NaN) }));
    net.outProj.bias!.assign(tf.zeros([2]));
    const r = guard.step({ step: 3, optimizer: opt, params: net, loss: loss(1) });
    expect(r.nonFinite).toBe('out_proj.bias');
    expect(guard.state()).toEqual({ skipped: 2, consecutive: 2 });
    const g2 = new StepGuard();
    g2.loadState(guard.state());
    expect(g2.consecutive).toBe(2);
    tf.dispose([x, t]);
    net.dispose();
    opt.dispose();
  });

  it('rejects bad arguments with FewstepError', () => {
    const { params, opt, lossWith } = setup();
    const guard = new StepGuard();
    expect(() => new StepGuard({ maxConsecutive: 0 })).toThrow(/maxConsecutive must be an integer >= 1/);
    expect(() => guard.step(null as never)).toThrow(/args must be an object/);
    expect(() => guard.step({ step: -1, optimizer: opt, params, loss: lossWith(1) })).toThrow(/step must be an integer >= 0/);
    expect(() => guard.step({ step: 0, optimizer: {} as never, params, loss: lossWith(1) })).toThrow(/optimizer must be a tf.Optimizer/);
    expect(() => guard.step({ step: 0, optimizer: opt, params, loss: 1 as never })).toThrow(/loss must be a function/);
    expect(() => guard.step({ step: 0, optimizer: opt, params: [], loss: lossWith(1) })).toThrow(/params must be at least one trainable variable/);
    expect(() => guard.step({ step: 0, optimizer: opt, params: { a: tf.zeros([1]) as never }, loss: lossWith(1) })).toThrow(/params.a must be a live tf.Variable/);
    expect(() => guard.step({ step: 0, optimizer: opt, params, loss: lossWith(1), clipNorm: 0 })).toThrow(/clipNorm must be/);
    expect(() => guard.loadState({ skipped: -1, consecutive: 0 })).toThrow(/state.skipped/);
    tf.dispose(Object.values(params));
    opt.dispose();
  });
});

describe('StepGuard.stepAsync', () => {
  it('gives the same results, parameters and optimizer state as step (finite, NaN loss, inf gradient, clipping)', async () => {
    const a = setup();
    const b = setup();
    const ga = new StepGuard({ maxConsecutive: 3 });
    const gb = new StepGuard({ maxConsecutive: 3 });
    const plan: [number, number, number | undefined][] = [[1, 1, undefined], [2, NaN, undefined], [3, 1, 0.5], [4, Infinity, undefined], [5, 2, 0.1]];
    for (const [step, x, clipNorm] of plan) {
      const ra = ga.step({ step, optimizer: a.opt, params: a.params, loss: a.lossWith(x), clipNorm });
      const run = () => gb.stepAsync({ step, optimizer: b.opt, params: b.params, loss: b.lossWith(x), clipNorm });
      const rb = step === 1 ? await run() : await expectNoLeak(run); // the first step creates the optimizer moments
      expect(rb).toEqual(ra);
      expect(Array.from(b.params.a.dataSync())).toEqual(Array.from(a.params.a.dataSync()));
      expect(Array.from(b.params.b.dataSync())).toEqual(Array.from(a.params.b.dataSync()));
    }
    expect(b.opt.step).toBe(a.opt.step);
    expect(gb.state()).toEqual(ga.state());
    expect(gb.events).toEqual(ga.events);
    // A non-finite gradient is named, and K consecutive bad steps reject with the same message.
    b.params.b.assign(tf.tensor([0, 4]));
    expect((await gb.stepAsync({ step: 6, optimizer: b.opt, params: b.params, loss: b.lossWith(1) })).nonFinite).toBe('b');
    await gb.stepAsync({ step: 7, optimizer: b.opt, params: b.params, loss: b.lossWith(NaN) });
    await expect(gb.stepAsync({ step: 8, optimizer: b.opt, params: b.params, loss: b.lossWith(1) })).rejects.toThrow(
      /3 consecutive non-finite steps ending at step 8; first non-finite tensor: the gradient of b/,
    );
    for (const s of [a, b]) {
      tf.dispose(Object.values(s.params));
      s.opt.dispose();
    }
  });

  it('rejects bad arguments like step; on webgpu step throws naming stepAsync and computes nothing', async () => {
    const { params, opt, lossWith } = setup();
    const guard = new StepGuard();
    await expect(guard.stepAsync(null as never)).rejects.toThrow(/StepGuard.stepAsync: args must be an object/);
    await expect(guard.stepAsync({ step: 0, optimizer: opt, params: [], loss: lossWith(1) })).rejects.toThrow(/params must be at least one trainable variable/);
    await expect(guard.stepAsync({ step: 0, optimizer: opt, params, loss: lossWith(1), clipNorm: -1 })).rejects.toThrow(/clipNorm must be/);
    await asAsyncOnlyBackend(() => {
      let calls = 0;
      const loss = () => (calls++, lossWith(1)());
      expect(() => guard.step({ step: 0, optimizer: opt, params, loss })).toThrow(/StepGuard.step: backend must allow synchronous reads .*use await guard.stepAsync\(args\) instead/);
      expect(calls).toBe(0);
    });
    tf.dispose(Object.values(params));
    opt.dispose();
  });
});
