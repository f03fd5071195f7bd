/** Fuzz cases over the public API of @fewstep/core. */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import * as core from '@fewstep/core';
import { batchTensor, defineCase, tensorPair, int, junk, maybe, num, opt, posNum, shapeArb, smallInt, tensorArb, type FuzzCase } from './harness';

const TRANSPORTS = ['linear', 'relinear', 'trigflow', 'triglinear', 'random', 'edm', 'sigma', 'vp'] as const;
const transportName = maybe(fc.constantFrom<string>(...TRANSPORTS, 'nope', 'LINEAR'));
const batch = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) });
const unitTime = fc.oneof({ weight: 6, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }, { weight: 2, arbitrary: num });
const times = fc.oneof(unitTime, tensorArb({ maxRank: 2 }));
/** A time per sample: a number or a [B] tensor. */
const timesFor = (b: number) => fc.oneof(unitTime, tensorArb({ shape: fc.constant([b]) }), tensorArb({ maxRank: 2 }));
const numList = fc.oneof({ weight: 1, arbitrary: fc.array(num, { maxLength: 6 }) }, { weight: 4, arbitrary: fc.array(fc.double({ min: 0.001, max: 80, noNaN: true }), { minLength: 2, maxLength: 6 }).map((a) => [...new Set(a)].sort((x, y) => x - y)) });

const karrasOpts = opt(fc.record({ sigmaMin: opt(posNum), sigmaMax: opt(posNum), rho: opt(num), appendZero: opt(fc.boolean()) }, { requiredKeys: [] }));
const noiseShape = fc.oneof({ weight: 8, arbitrary: shapeArb({ maxRank: 3 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>([-1], [1.5], 'x', [NaN], undefined) });

export const coreCases: FuzzCase[] = [
  defineCase('karrasSigmas', fc.tuple(int, karrasOpts), ([n, o]) => core.karrasSigmas(n, o)),
  defineCase('exponentialSigmas', fc.tuple(int, karrasOpts), ([n, o]) => core.exponentialSigmas(n, o)),
  defineCase('uniformTimes', fc.tuple(int, opt(num), opt(num)), ([n, a, b]) => core.uniformTimes(n, a, b)),
  defineCase('cmIndexSigma', fc.tuple(int, int, karrasOpts), ([i, n, o]) => core.cmIndexSigma(i, n, o)),
  defineCase('kumaraswamy', fc.tuple(num, num, num, num), ([t, a, b, c]) => core.kumaraswamy(t, a, b, c)),
  defineCase('unifiedTimeGrid', fc.record({ steps: int, kumaraswamy: opt(fc.tuple(num, num, num)), gaps: opt(fc.tuple(num, num)), integrationStart: maybe(fc.constantFrom(0, 1, 2)) }), (o) => core.unifiedTimeGrid(o as never)),
  defineCase('explicitGrid', fc.tuple(numList, maybe(fc.constantFrom('descending', 'ascending'))), ([v, d]) => core.explicitGrid(v, d as never)),
  defineCase('perSample', fc.tuple(fc.oneof(num, tensorArb({ maxRank: 2 })), tensorArb()), ([v, like], mk) => core.perSample(typeof v === 'number' ? v : mk.t(v), mk.t(like))),
  defineCase('meanOverNonBatch', tensorArb(), (x, mk) => core.meanOverNonBatch(mk.t(x))),
  defineCase('sumOverNonBatch', tensorArb(), (x, mk) => core.sumOverNonBatch(mk.t(x))),
  defineCase('toPerSample', fc.tuple(times, int), ([v, b], mk) => core.toPerSample(typeof v === 'number' ? v : mk.t(v), b)),
  defineCase('transportByName + coefficients', fc.tuple(transportName, times), ([name, t], mk) => {
    const tr = core.transportByName(name as string);
    return tr.coefficients((typeof t === 'number' ? t : mk.t(t)) as never);
  }),
  defineCase('mixAt', batch.chain((b) => fc.tuple(fc.constantFrom(...TRANSPORTS), tensorPair(b), timesFor(b))), ([name, [x, z], t], mk) =>
    core.mixAt(core.transportByName(name), mk.t(x), mk.t(z), typeof t === 'number' ? t : mk.t(t)),
  ),
  defineCase('recoverEstimates', batch.chain((b) => fc.tuple(fc.constantFrom(...TRANSPORTS), maybe(fc.constantFrom(...core.PARAMETERISATIONS)), tensorPair(b), timesFor(b))), ([name, p, [xt, out], t], mk) =>
    core.recoverEstimates(core.transportByName(name), p as never, mk.t(xt), mk.t(out), typeof t === 'number' ? t : mk.t(t)),
  ),
  defineCase('preconditioning coefficients', fc.tuple(fc.constantFrom('edm', 'vp', 've', 'cm', 'ect'), fc.record({ sigmaData: opt(num), sigmaMin: opt(num), sigmaMax: opt(num), betaD: opt(num), M: opt(num) }, { requiredKeys: [] }), times), ([kind, o, s], mk) => {
    const pre = kind === 'edm' ? core.edmPreconditioning(o) : kind === 'vp' ? core.vpPreconditioning(o) : kind === 've' ? core.vePreconditioning(o)
      : kind === 'cm' ? core.consistencyPreconditioning({ ...o, noiseLabel: 'edm' } as never) : core.ectPreconditioning({ ...o, mode: 'eval' });
    return pre.coefficients((typeof s === 'number' ? s : mk.t(s)) as never);
  }),
  defineCase('precondition(...)(x, sigma)', batch.chain((b) => fc.tuple(batchTensor(b), fc.oneof(tensorArb({ shape: fc.constant([b]) }), tensorArb({ maxRank: 2 })))), ([x, s], mk) =>
    core.precondition((xi) => tf.mul(xi, 0.5), core.edmPreconditioning())(mk.t(x), mk.t(s)),
  ),
  defineCase('eulerStep / heunStep', batch.chain((b) => fc.tuple(fc.boolean(), batchTensor(b), fc.oneof(posNum, tensorArb({ shape: fc.constant([b]) })), fc.oneof(posNum, tensorArb({ shape: fc.constant([b]) })))), ([heun, x, s, sn], mk) => {
    const D = (xi: tf.Tensor) => tf.mul(xi, 0.9);
    const a = typeof s === 'number' ? s : mk.t(s);
    const b = typeof sn === 'number' ? sn : mk.t(sn);
    return heun ? core.heunStep(D, mk.t(x), a as never, b as never) : core.eulerStep(D, mk.t(x), a as never, b as never);
  }, ([, , s]) => (s as { fill?: string }).fill !== 'zero'), // (x - D) / sigma is undefined at sigma = 0; a value check would cost a device read
  defineCase('transportStep', batch.chain((b) => fc.tuple(fc.constantFrom(...TRANSPORTS), tensorPair(b), unitTime)), ([n, [x, z], t], mk) =>
    core.transportStep(core.transportByName(n), mk.t(x), mk.t(z), t),
  ),
  defineCase('time distributions .sample', fc.tuple(fc.constantFrom('lognormal', 'beta', 'logit', 'uniform'), num, num, int), ([kind, a, b, n]) => {
    const d = kind === 'lognormal' ? core.logNormalTimes({ pMean: a, pStd: b }) : kind === 'beta' ? core.betaTimes({ a, b })
      : kind === 'logit' ? core.logitNormalTimes({ mean: a, std: b }) : core.uniformTimeDistribution({ low: a, high: b });
    return d.sample(core.seededNoise(1), n);
  }),
  defineCase('cmCurriculum', fc.tuple(fc.record({ targetEmaMode: opt(fc.constantFrom('fixed', 'adaptive')), scaleMode: opt(fc.constantFrom('fixed', 'progressive')), startEma: opt(num), startScales: opt(int), endScales: opt(int), totalSteps: opt(int) }, { requiredKeys: [] }), int), ([o, k]) => core.cmCurriculum(o as never)(k)),
  defineCase('ictNumScales', fc.tuple(int, fc.record({ totalSteps: opt(int), s0: opt(int), s1: opt(int) }, { requiredKeys: [] })), ([k, o]) => core.ictNumScales(k, o)),
  defineCase('ictSigmas', fc.tuple(int, fc.record({ sigmaMin: opt(num), sigmaMax: opt(num), rho: opt(num) }, { requiredKeys: [] })), ([n, o]) => core.ictSigmas(n, o)),
  defineCase('ictIndexProbabilities / ictWeights', fc.tuple(numList, num, num), ([s, m, sd]) => [core.ictIndexProbabilities(s, { pMean: m, pStd: sd }), core.ictWeights(s)]),
  defineCase('ectRatio / ectTToR', fc.tuple(times, smallInt, fc.record({ mapping: opt(maybe(fc.constantFrom('sigmoid', 'const'))), q: opt(num), k: opt(num), b: opt(num) }, { requiredKeys: [] })), ([t, stage, o], mk) =>
    [core.ectRatio(stage, o.q), core.ectTToR((typeof t === 'number' ? t : mk.t(t)) as never, stage, o as never)],
  ),
  defineCase('ectStage', fc.tuple(int, fc.record({ batchSize: int, kimgPerTick: num, doubleTicks: int })), ([i, o]) => core.ectStage(i, o)),
  defineCase('erf / roundHalfEven / shiftGamma', fc.tuple(num, num, opt(num)), ([x, s, p]) => [core.erf(x), core.roundHalfEven(x), core.shiftGamma(x, s, p)]),
  defineCase('seededNoise draws', fc.tuple(int, opt(int), fc.constantFrom('normal', 'uniform', 'randint', 'beta', 'categorical'), noiseShape, num, num), ([seed, counter, kind, shape, a, b]) => {
    const n = core.seededNoise(seed, counter);
    const s = shape as number[];
    if (kind === 'normal') return n.normal(s);
    if (kind === 'uniform') return n.uniform(s, a, b);
    if (kind === 'randint') return n.randint(s, a, b);
    if (kind === 'beta') return n.beta(s, a, b);
    return n.categorical([a, b, 1], Array.isArray(shape) ? (shape.length as number) : (shape as never));
  }),
  defineCase('perSampleNoise / noiseFromState', fc.tuple(fc.oneof(fc.array(int, { minLength: 1, maxLength: 3 }), junk), fc.oneof(fc.constant([1, 2]), fc.constant([2, 3]), fc.constant([3]), noiseShape), fc.oneof(junk, fc.record({ kind: fc.constantFrom('seeded', 'per-sample', 'replay', 'x'), seed: int, seeds: fc.array(int, { minLength: 1, maxLength: 2 }), counter: smallInt, position: int }))), ([seeds, shape, st]) => {
    const sh = Array.isArray(shape) && Array.isArray(seeds) && shape.length > 0 ? [seeds.length, ...shape.slice(1)] : shape;
    try {
      core.noiseFromState(st as never).normal([1]).dispose();
    } catch (e) {
      if (!(e instanceof core.FewstepError)) throw e;
    }
    return core.perSampleNoise(seeds as never).normal(sh as never);
  }),
  defineCase('replayNoise', fc.tuple(fc.array(fc.record({ kind: opt(fc.constantFrom('normal', 'normal', 'uniform')), data: fc.oneof(fc.array(num, { minLength: 2, maxLength: 2 }), fc.array(num, { maxLength: 4 })) }), { maxLength: 3 }), opt(fc.constantFrom(0, 1, 5, -1)), fc.oneof(fc.constant([2]), fc.constant([1, 2]), noiseShape)), ([draws, pos, shape]) => core.replayNoise(draws as never, pos).normal(shape as never)),
  defineCase('updateEma / ExponentialMovingAverage', fc.tuple(tensorPair(2), fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), num), fc.constantFrom('fixed', 'half', 'power')), ([[a, b], rate, kind], mk) => {
    const v = tf.variable(mk.t(a));
    try {
      core.updateEma([v], [mk.t(b)], rate);
      const decay = kind === 'fixed' ? core.fixedDecay(rate) : kind === 'half' ? core.halfLifeDecay({ halfLifeImages: rate, batchSize: 2, rampUp: rate }) : core.powerDecay(rate);
      const ema = new core.ExponentialMovingAverage([v], decay);
      try {
        ema.update();
        return Array.from(ema.shadow[0]!.dataSync());
      } finally {
        ema.dispose();
      }
    } finally {
      v.dispose();
    }
  }),
  defineCase('RAdam / AdamW step', fc.tuple(fc.boolean(), fc.record({ learningRate: opt(num), beta1: opt(num), beta2: opt(num), epsilon: opt(num), weightDecay: opt(num) }, { requiredKeys: [] }), tensorArb({ maxRank: 2, float: true })), ([radam, o, g], mk) => {
    const optm = radam ? new core.RAdam(o) : new core.AdamW(o);
    const grad = mk.t(g);
    const v = tf.tidy(() => tf.variable(tf.onesLike(grad)));
    try {
      optm.applyGradients({ [v.name]: grad });
      return Array.from(v.dataSync());
    } finally {
      v.dispose();
      optm.dispose();
    }
  }),
  defineCase('clipByGlobalNorm', fc.tuple(fc.array(tensorArb({ maxRank: 2 }), { maxLength: 3 }), num), ([gs, m], mk) => {
    const grads = Object.fromEntries(gs.map((g, i) => [`g${i}`, mk.t(g)]));
    return clipByGlobalNormFinite(grads, m);
  }),
  defineCase('lr schedules', fc.tuple(fc.constantFrom('constant', 'warmup', 'cosine', 'isqrt'), num, int, int, opt(num), int), ([kind, lr, a, b, min, step]) => {
    const s = kind === 'constant' ? core.constantLr(lr) : kind === 'warmup' ? core.warmupLr(lr, a)
      : kind === 'cosine' ? core.cosineLr({ lr, totalSteps: a, warmupSteps: b, minLr: min }) : core.inverseSqrtLr({ lr, refSteps: a, warmupSteps: b });
    return s(step);
  }),
  defineCase('mdmGammas / vdmLossWeights', fc.tuple(maybe(fc.constantFrom('cosine', 'ddpm', 'deepfloyd', 'nope')), int, num, num, numList), ([type, n, bs, be, g]) => [core.mdmGammas(type as never, n, { betaStart: bs, betaEnd: be }), core.vdmLossWeights(g)]),
  defineCase('snrWeighting', fc.tuple(maybe(fc.constantFrom(...core.SNR_WEIGHTINGS)), tensorArb({ maxRank: 2 }), opt(num)), ([k, s, sd], mk) => core.snrWeighting(k as never, mk.t(s), sd), ([, s]) => s.fill !== 'zero'),
  defineCase('stopGradient', fc.oneof(tensorArb(), junk), (x, mk) => core.stopGradient(mk.t(x))),
  defineCase('createPredictor.predict', batch.chain((b) => fc.tuple(fc.constantFrom(...TRANSPORTS), maybe(fc.constantFrom(...core.PARAMETERISATIONS)), batchTensor(b), timesFor(b))), ([n, p, x, t], mk) =>
    core.createPredictor({ network: (xi) => tf.mul(xi, 0.5), transport: core.transportByName(n), parameterisation: p as never }).predict(mk.t(x), typeof t === 'number' ? t : mk.t(t)),
  ),
];

/** clipByGlobalNorm reports (does not hide) a non-finite norm by design: only the returned gradients are checked. */
function clipByGlobalNormFinite(grads: tf.NamedTensorMap, maxNorm: number) {
  const { grads: clipped, norm } = core.clipByGlobalNorm(grads, maxNorm);
  norm.dispose(); // the caller owns the norm; dropping it here would count as a leak
  return clipped;
}
