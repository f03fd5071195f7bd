/** Fuzz cases over the public API of @fewstep/losses: every loss's compute on odd contexts, the metrics and helpers. */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { perSample, seededNoise, transportByName } from '@fewstep/core';
import * as L from '@fewstep/losses';
import { defineCase, int, junk, maybe, num, opt, posNum, shapeArb, smallInt, tensorArb, type FuzzCase, type Maker, type TSpec } from './harness';

type NetKind = 'scale' | 'wrong-shape' | 'nan';
const netKind = fc.constantFrom<NetKind>('scale', 'scale', 'scale', 'wrong-shape', 'nan');

/** A stand-in network: a smooth function of (x, t), one returning the wrong shape, or one returning NaN. */
function network(kind: NetKind) {
  return (x: tf.Tensor, t: tf.Tensor) =>
    tf.tidy(() => {
      if (kind === 'wrong-shape') return tf.sum(x, -1);
      const out = tf.add(tf.mul(x, 0.9), tf.mul(perSample(tf.cast(t, 'float32'), x), 0.01));
      return kind === 'nan' ? tf.mul(out, NaN) : out;
    });
}

/** Image-like, vector-like or odd x: rank 1-5, sometimes int32/bool, sometimes NaN/Inf. */
const xArb = fc.oneof(
  tensorArb({ shape: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).map((s) => [...s]), float: true }),
  tensorArb({ shape: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 })).map((s) => [...s]), float: true }),
  tensorArb({ shape: shapeArb({ minRank: 0, maxRank: 5 }) }),
);

const ctxArb = fc.record({ x: xArb, net: netKind, step: opt(maybe(int)), target: fc.boolean(), labels: fc.boolean(), seed: fc.integer({ min: 0, max: 100 }) });
type CtxArgs = { x: TSpec; net: NetKind; step?: number; target: boolean; labels: boolean; seed: number };

function ctxOf(a: CtxArgs, mk: Maker): L.LossContext {
  const x = mk.t(a.x);
  return {
    network: network(a.net), x, step: a.step, noise: seededNoise(a.seed),
    targetNetwork: a.target ? network(a.net) : undefined, teacher: a.target ? network(a.net) : undefined,
  };
}

/** A network returning NaN is the user's bug, not ours: outputs need not be finite then. */
const finiteNet = (args: unknown) => !(args as unknown[]).some((a) => (a as CtxArgs | undefined)?.net === 'nan');
const compute = (loss: L.Loss, c: CtxArgs, mk: Maker) => loss.compute(ctxOf(c, mk));

const TRANSPORTS = ['linear', 'relinear', 'trigflow', 'triglinear', 'edm', 'vp'] as const;

export const lossesCases: FuzzCase[] = [
  defineCase('edmLoss', fc.tuple(fc.record({ pMean: opt(num), pStd: opt(num), sigmaData: opt(num), reduction: opt(maybe(fc.constantFrom('mean', 'sum'))) }, { requiredKeys: [] }), ctxArb),
    ([o, c], mk) => compute(L.edmLoss(o as never), c, mk), finiteNet),
  defineCase('flowMatchingLoss', fc.tuple(fc.constantFrom(...TRANSPORTS), opt(maybe(fc.constantFrom('mean', 'sum'))), ctxArb),
    ([t, r, c], mk) => compute(L.flowMatchingLoss({ transport: transportByName(t), reduction: r as never }), c, mk), finiteNet),
  defineCase('consistencyTrainingLoss', fc.tuple(fc.record({ sigmaMin: opt(posNum), sigmaMax: opt(posNum), rho: opt(num), sigmaData: opt(num), distance: opt(maybe(fc.constantFrom('l2', 'l1', 'l2-32'))), weighting: opt(maybe(fc.constantFrom('uniform', 'snr', 'snr+1', 'karras', 'truncated-snr'))) }, { requiredKeys: [] }), ctxArb),
    ([o, c], mk) => compute(L.consistencyTrainingLoss(o as never), c, mk), finiteNet),
  defineCase('consistencyDistillationLoss', fc.tuple(fc.record({ sigmaMin: opt(posNum), sigmaMax: opt(posNum), solver: opt(maybe(fc.constantFrom('euler', 'heun'))) }, { requiredKeys: [] }), ctxArb),
    ([o, c], mk) => compute(L.consistencyDistillationLoss(o as never), c, mk), finiteNet),
  defineCase('ictLoss', fc.tuple(fc.record({ c: opt(num), totalSteps: opt(int), s0: opt(int), s1: opt(int), sigmaMin: opt(posNum), sigmaMax: opt(posNum), pMean: opt(num), pStd: opt(num) }, { requiredKeys: [] }), ctxArb),
    ([o, c], mk) => compute(L.ictLoss(o as never), c, mk), finiteNet),
  defineCase('ectLoss', fc.tuple(fc.record({ pMean: opt(num), pStd: opt(num), mapping: opt(maybe(fc.constantFrom('sigmoid', 'const'))), q: opt(num), k: opt(num), b: opt(num), c: opt(num), stage: opt(fc.oneof(smallInt, fc.record({ batchSize: int, kimgPerTick: num, doubleTicks: int }), junk)) }, { requiredKeys: [] }), ctxArb),
    ([o, c], mk) => compute(L.ectLoss(o as never), c, mk), finiteNet),
  defineCase('ucgmTrainer', fc.tuple(fc.constantFrom(...TRANSPORTS), fc.record({ consistencyRatio: opt(num), emaDecayRate: opt(num), enhancedRatio: opt(num), labelDropRatio: opt(num), scaledCblEps: opt(num), cosineLoss: opt(fc.boolean()), weighting: opt(maybe(fc.constantFrom('none', 'cosine'))), timeDistribution: opt(fc.tuple(num, num, num)) }, { requiredKeys: [] }), ctxArb),
    ([t, o, c], mk) => compute(L.ucgmTrainer({ transport: transportByName(t), ...o } as never), c, mk), finiteNet),
  defineCase('distances', fc.tuple(fc.constantFrom('l2', 'l1', 'sq', 'huber', 'cos', 'l2-32'), xArb, xArb, num),
    ([d, a, b, c], mk) => {
      const f = d === 'l2' ? L.l2Distance() : d === 'l1' ? L.l1Distance() : d === 'sq' ? L.squaredL2SumDistance() : d === 'huber' ? L.pseudoHuberDistance({ c }) : d === 'cos' ? L.cosineDistance() : L.resizedL2Distance(4);
      return f(mk.t(a), mk.t(b));
    }),
  defineCase('bilinearResize', fc.tuple(xArb, int), ([x, s], mk) => L.bilinearResize(mk.t(x), s)),
  defineCase('resolveDistance', fc.oneof(fc.constantFrom('l2', 'l1', 'l2-32', 'nope'), junk), (d) => L.resolveDistance('fuzz', d as never)),
  defineCase('reduceLoss', fc.tuple(tensorArb({ maxRank: 2 }), maybe(fc.constantFrom('mean', 'sum'))), ([p, r], mk) => L.reduceLoss(mk.t(p) as tf.Tensor1D, r as never)),
  defineCase('assertFiniteLoss / withFiniteCheck', fc.tuple(tensorArb({ maxRank: 1 }), ctxArb), ([p, c], mk) => {
    L.assertFiniteLoss('fuzz', mk.t(p) as tf.Tensor1D);
    return compute(L.withFiniteCheck(L.edmLoss()), c, mk);
  }, finiteNet),
  defineCase('withoutGradient', fc.oneof(tensorArb(), junk), (x, mk) => L.withoutGradient((typeof x === 'object' && x !== null && 'tensor' in x ? () => tf.mul(mk.t(x), 2) : x) as never)),
];
