/** Fuzz cases over the public API of @fewstep/samplers: every sampler run end to end on odd inputs, the helpers. */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { seededNoise, transportByName } from '@fewstep/core';
import * as S from '@fewstep/samplers';
import { tensorPair, defineCase, int, junk, maybe, num, opt, posNum, shapeArb, smallInt, tensorArb, type FuzzCase, type Maker, type TSpec } from './harness';

type NetKind = 'shrink' | 'wrong-shape' | 'nan';
/** A stand-in denoiser: shrinks its input, returns the wrong shape, or returns NaN (the user's bug). */
function network(kind: NetKind) {
  return (x: tf.Tensor) =>
    tf.tidy(() => (kind === 'wrong-shape' ? tf.sum(x, -1) : kind === 'nan' ? tf.mul(x, NaN) : tf.mul(tf.cast(x, 'float32'), 0.5)));
}

const start = fc.record({
  net: fc.constantFrom<NetKind>('shrink', 'shrink', 'shrink', 'wrong-shape', 'nan'),
  how: fc.constantFrom('shape', 'latents', 'x'),
  shape: fc.oneof({ weight: 6, arbitrary: shapeArb({ minRank: 1, maxRank: 4 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>([0, 2], [-1, 2], [1.5], 'x') }),
  tensor: tensorArb({ shape: shapeArb({ minRank: 1, maxRank: 4 }) }),
  seed: fc.integer({ min: 0, max: 50 }),
});
type Start = { net: NetKind; how: string; shape: unknown; tensor: TSpec; seed: number };

function run(sampler: S.Sampler, s: Start, mk: Maker): tf.Tensor {
  const common = { network: network(s.net), noise: seededNoise(s.seed) };
  if (s.how === 'shape') return S.sample(sampler, { ...common, shape: s.shape as number[] });
  if (s.how === 'latents') return S.sample(sampler, { ...common, latents: mk.t(s.tensor) });
  return S.sample(sampler, { ...common, x: mk.t(s.tensor) });
}

const finiteNet = (args: unknown) => !(args as unknown[]).some((a) => (a as Start | undefined)?.net === 'nan');
const tsArb = fc.oneof(fc.constant([0, 0.5, 1]), fc.array(num, { maxLength: 5 }), fc.array(fc.double({ min: 0, max: 80, noNaN: true }), { minLength: 2, maxLength: 5 }));
const TRANSPORTS = ['linear', 'relinear', 'trigflow', 'triglinear', 'edm', 'vp'] as const;
const churn = { sChurn: opt(posNum), sTMin: opt(posNum), sTMax: opt(posNum), sNoise: opt(posNum) };
const cmTs = fc.oneof({ weight: 4, arbitrary: fc.constant([0, 2, 4]) }, { weight: 2, arbitrary: fc.constant([0, 3]) }, { weight: 1, arbitrary: fc.array(int, { maxLength: 4 }) });
const cmSteps = fc.oneof({ weight: 4, arbitrary: fc.constant(5) }, { weight: 1, arbitrary: int });

export const samplersCases: FuzzCase[] = [
  defineCase('ucgmSampler', fc.tuple(fc.constantFrom(...TRANSPORTS), fc.record({ steps: opt(int), order: opt(maybe(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.constant(3) }))), extrapolation: opt(num), stochasticity: opt(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), num, fc.constant('auto'))), kumaraswamy: opt(fc.tuple(posNum, posNum, posNum)), gaps: opt(fc.tuple(fc.double({ min: 0, max: 0.4, noNaN: true }), fc.double({ min: 0, max: 0.4, noNaN: true }))) }, { requiredKeys: [] }), start),
    ([t, o, s], mk) => run(S.ucgmSampler({ transport: transportByName(t), ...o } as never), s, mk), finiteNet),
  defineCase('edmSampler', fc.tuple(fc.record({ steps: opt(int), sigmaMin: opt(fc.constantFrom(0.002, 0.01, -1)), sigmaMax: opt(posNum), rho: opt(posNum), solver: opt(maybe(fc.constantFrom('heun', 'euler'))), ...churn }, { requiredKeys: [] }), start),
    ([o, s], mk) => run(S.edmSampler(o as never), s, mk), finiteNet),
  defineCase('kdiffusionSampler', fc.tuple(maybe(fc.constantFrom('euler', 'heun', 'dpm2', 'dpmpp-2m')), tsArb, fc.record(churn, { requiredKeys: [] }), start),
    ([k, sig, o, s], mk) => run(S.kdiffusionSampler(k as never, { sigmas: [...sig].sort((a, b) => b - a), ...o } as never), s, mk), finiteNet),
  defineCase('cmKarrasSampler', fc.tuple(maybe(fc.constantFrom('heun', 'dpm', 'euler')), fc.record({ steps: int, sigmaMin: opt(fc.constantFrom(0.002, 0.01, -1)), sigmaMax: opt(posNum), clipDenoised: opt(fc.boolean()), ...churn }, { requiredKeys: ['steps'] }), start),
    ([k, o, s], mk) => run(S.cmKarrasSampler(k as never, o as never), s, mk), finiteNet),
  defineCase('cmMultistepSampler', fc.tuple(fc.record({ ts: cmTs, steps: cmSteps, sigmaMin: opt(fc.constantFrom(0.002, 0.01, -1)), sigmaMax: opt(posNum), rho: opt(posNum), clipDenoised: opt(fc.boolean()) }), start),
    ([o, s], mk) => run(S.cmMultistepSampler(o as never), s, mk), finiteNet),
  defineCase('ectMultistepSampler / oneStepSampler', fc.tuple(fc.boolean(), fc.record({ tMax: opt(posNum), midT: opt(fc.oneof(fc.constant([0.8]), fc.array(posNum, { maxLength: 3 }))), sigmaMax: opt(posNum), clipDenoised: opt(fc.boolean()) }, { requiredKeys: [] }), start),
    ([ect, o, s], mk) => run(ect ? S.ectMultistepSampler(o as never) : S.oneStepSampler(o as never), s, mk), finiteNet),
  defineCase('modifiers: guidance, clipDenoised', fc.tuple(num, opt(fc.tuple(num, num).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number])), num, num, start),
    ([scale, interval, lo, hi, s], mk) => run(S.edmSampler({ steps: 2, modifiers: [S.classifierFreeGuidance({ scale, interval, nullClass: 0 } as never), S.clipDenoised(lo, hi)] }), s, mk), finiteNet),
  defineCase('cmIndexGrid', fc.tuple(cmTs, cmSteps, fc.record({ sigmaMin: opt(posNum), sigmaMax: opt(posNum), rho: opt(num) }, { requiredKeys: [] })), ([ts, n, o]) => S.cmIndexGrid(ts, n, o)),
  defineCase('slerp / interpolationWeights', fc.tuple(tensorPair(2), fc.array(num, { maxLength: 4 }), int), ([[a, b], alphas, n], mk) => [S.interpolationWeights(n), S.slerp(mk.t(a), mk.t(b), alphas)]),
  defineCase('inpaint / colorize / superResolve', fc.tuple(fc.constantFrom('inpaint', 'colorize', 'super'), tensorArb({ shape: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom(4, 8, 5), fc.constantFrom(4, 8, 5), fc.constantFrom(1, 3, 4)).map((x) => [...x]) }), tensorArb({ maxRank: 4 }), cmTs, opt(fc.constantFrom(2, 4, 3)), fc.constantFrom<NetKind>('shrink', 'wrong-shape', 'nan')),
    ([kind, img, mask, ts, patch, net], mk) => {
      const common = { network: network(net), images: mk.t(img), ts, steps: 5, noise: seededNoise(1) };
      if (kind === 'inpaint') return S.inpaint({ ...common, mask: mk.t(mask) } as never);
      if (kind === 'colorize') return S.colorize(common as never);
      return S.superResolve({ ...common, patchSize: patch } as never);
    }, ([, , , , , net]) => net !== 'nan'),
  defineCase('sampleSteps with junk options', fc.tuple(fc.oneof(junk, fc.constant('ok')), fc.oneof(junk, fc.constant('net'))), ([sampler, net]) => {
    const samp = sampler === 'ok' ? S.oneStepSampler() : sampler;
    return S.sample(samp as never, { network: net === 'net' ? network('shrink') : (net as never), shape: [1, 2] });
  }),
];
