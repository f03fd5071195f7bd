import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  betaTimes,
  FewstepError,
  logitNormalTimes,
  logNormalTimes,
  noiseFromState,
  perSampleNoise,
  replayNoise,
  seededNoise,
  uniformTimeDistribution,
  type NoiseSource,
} from '@fewstep/core';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

const values = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

function everyDraw(n: NoiseSource): number[][] {
  return [
    values(n.normal([4, 3])),
    values(n.uniform([5], -1, 2)),
    values(n.randint([6], 3, 9)),
    values(n.beta([5], 2, 3)),
    values(n.categorical([0.2, 0, 0.8], 7)),
  ];
}

describe('seeded noise', () => {
  it('is reproducible from its seed, and resumes exactly from a saved state', () => {
    expect(everyDraw(seededNoise(7))).toEqual(everyDraw(seededNoise(7)));
    expect(everyDraw(seededNoise(7))).not.toEqual(everyDraw(seededNoise(8)));
    const a = seededNoise(3);
    values(a.normal([2]));
    const resumed = noiseFromState(a.state());
    expect(everyDraw(a)).toEqual(everyDraw(resumed));
  });

  it('draws have the right ranges and moments', () => {
    const n = seededNoise(1);
    const z = values(n.normal([20000]));
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
    const u = values(n.uniform([5000], -1, 2));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(2);
    const r = values(n.randint([5000], 3, 9));
    expect(new Set(r)).toEqual(new Set([3, 4, 5, 6, 7, 8]));
    const b = values(n.beta([20000], 2, 3));
    expect(b.reduce((s, v) => s + v, 0) / b.length).toBeCloseTo(2 / 5, 1.5);
    const c = values(n.categorical([0.2, 0, 0.8], 5000));
    expect(c.filter((i) => i === 1)).toHaveLength(0);
    expect(c.filter((i) => i === 2).length / 5000).toBeCloseTo(0.8, 1.5);
  });

  it('per-sample seeds make a sample independent of its batch', () => {
    const big = perSampleNoise([11, 22, 33]);
    const small = perSampleNoise([22]);
    const rowsBig = values(big.normal([3, 4]));
    const rowsSmall = values(small.normal([1, 4]));
    expect(rowsBig.slice(4, 8)).toEqual(rowsSmall);
    expect(() => big.normal([2, 4])).toThrow(/first axis is the number of seeds \(3\)/);
  });

  it('leaks nothing', async () => {
    const n = seededNoise(5);
    await expectNoLeak(() => everyDraw(n));
    await expectNoLeak(() => perSampleNoise([1, 2]).beta([2, 3], 1, 1));
  });
});

describe('replayed noise', () => {
  it('returns recorded draws in order, reshaped, and checks kind and size', () => {
    const n = replayNoise([
      { kind: 'normal', data: [1, 2, 3, 4] },
      { kind: 'randint', data: [5, 6] },
    ]);
    const z = n.normal([2, 2]);
    expect(z.shape).toEqual([2, 2]);
    expect(values(z)).toEqual([1, 2, 3, 4]);
    expect(() => n.normal([2])).toThrow(/draw 1 was recorded as randint, but normal was requested/);
    expect(() => n.randint([3], 0, 9)).toThrow(/holds 2 values, but shape \[3\] needs 3/);
    expect(values(n.randint([2], 0, 9))).toEqual([5, 6]);
    expect(() => n.normal([1])).toThrow(/only 2 draws were recorded/);
    expect(n.state()).toEqual({ kind: 'replay', position: 2 });
  });
});

describe('time distributions', () => {
  it('log-normal uses one normal draw: sigma = exp(pMean + pStd n)', () => {
    const n = replayNoise([{ kind: 'normal', data: [0, 1, -1] }]);
    const s = values(logNormalTimes({ pMean: -1.2, pStd: 1.2 }).sample(n, 3));
    expect(s[0]).toBeCloseTo(Math.exp(-1.2), 6);
    expect(s[1]).toBeCloseTo(1, 6);
    expect(s[2]).toBeCloseTo(Math.exp(-2.4), 6);
  });
  it('Beta times are scaled and clamped (UCGM time_dist_ctrl)', () => {
    const n = replayNoise([{ kind: 'beta', data: [0.1, 0.5, 0.9] }]);
    expect(values(betaTimes({ a: 0.8, b: 1, scale: 1.2 }).sample(n, 3)).map((v) => +v.toFixed(6))).toEqual([0.12, 0.6, 1]);
  });
  it('logit-normal and uniform stay in range', () => {
    const n = seededNoise(0);
    values(logitNormalTimes().sample(n, 100)).forEach((t) => expect(t > 0 && t < 1).toBe(true));
    values(uniformTimeDistribution({ low: 0.2, high: 0.3 }).sample(n, 100)).forEach((t) => expect(t >= 0.2 && t < 0.3).toBe(true));
  });
  it('rejects bad parameters', () => {
    expect(() => logNormalTimes({ pStd: 0 })).toThrow(/pStd must be a number > 0, got 0/);
    expect(() => betaTimes({ a: -1 })).toThrow(/a must be a number > 0/);
    expect(() => logNormalTimes().sample(seededNoise(0), 0)).toThrow(/batch must be an integer >= 1/);
    expect(() => logNormalTimes().sample({} as never, 2)).toThrow(/noise must be a NoiseSource/);
    expect(() => seededNoise(1.5)).toThrow(FewstepError);
    expect(() => seededNoise(0).normal([2, -1])).toThrow(/shape\[1\] must be an integer >= 0, got -1/);
    expect(() => seededNoise(0).uniform([2], 1, 0)).toThrow(/high must be a number > 1, got 0/);
    expect(() => seededNoise(0).categorical([0, 0], 2)).toThrow(/positive sum/);
    expect(() => noiseFromState({ kind: 'replay', position: 0 })).toThrow(/state/);
  });
});
