import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError } from '@fewstep/core';
import { createRng } from '@fewstep/core';
import { permutation, sampleToy, sampleToyArray, TOY_DISTRIBUTIONS } from '@fewstep/data';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';

beforeAll(useTestBackend);

function moments(v: Float32Array, dim: number): { mean: number[]; std: number[] } {
  const n = v.length / dim;
  const mean = new Array(dim).fill(0);
  const sq = new Array(dim).fill(0);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += v[i * dim + d] / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) sq[d] += (v[i * dim + d] - mean[d]) ** 2 / n;
  return { mean, std: sq.map(Math.sqrt) };
}

describe('createRng', () => {
  it('replays from a seed and differs across seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xa = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xa);
  });
  it('draws uniforms in [0, 1) and standard normals with the right moments', () => {
    const rng = createRng(1);
    const u = Float32Array.from({ length: 20000 }, () => rng.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mu = moments(u, 1);
    expect(mu.mean[0]).toBeCloseTo(0.5, 1);
    expect(mu.std[0]).toBeCloseTo(Math.sqrt(1 / 12), 2);
    const z = Float32Array.from({ length: 20000 }, () => rng.normal());
    const mz = moments(z, 1);
    expect(Math.abs(mz.mean[0])).toBeLessThan(0.03);
    expect(Math.abs(mz.std[0] - 1)).toBeLessThan(0.03);
  });
  it('rejects a non-integer seed', () => {
    expect(() => createRng(0.5)).toThrowError(FewstepError);
    expect(() => createRng(0.5)).toThrowError(/seed must be an integer/);
  });
  it('permutation is a seeded permutation', () => {
    const p = permutation(100, 3);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(permutation(100, 3))).toEqual(Array.from(p));
    expect(Array.from(permutation(100, 4))).not.toEqual(Array.from(p));
  });
});

describe('sampleToy', () => {
  it('returns float32 [N, 2] tensors, reproducible from the seed, without leaks', async () => {
    for (const name of TOY_DISTRIBUTIONS) {
      const x = await expectNoLeak(() => sampleToy(name, 64, { seed: 5 }));
      expect(x.isDisposed).toBe(true);
      const y = sampleToy(name, 64, { seed: 5 });
      expect(y.shape).toEqual([64, 2]);
      expect(y.dtype).toBe('float32');
      expect(Array.from(y.dataSync())).toEqual(Array.from(sampleToyArray(name, 64, { seed: 5 })));
      expect(Array.from(y.dataSync())).not.toEqual(Array.from(sampleToyArray(name, 64, { seed: 6 })));
      y.dispose();
    }
  });
  it('draws from an injected random source, continuing its stream', () => {
    const rng = createRng(11);
    const a = sampleToyArray('moons', 8, { rng });
    const b = sampleToyArray('moons', 8, { rng });
    expect(Array.from(b)).not.toEqual(Array.from(a));
    const replay = createRng(11);
    expect(Array.from(sampleToyArray('moons', 8, { rng: replay }))).toEqual(Array.from(a));
    expect(Array.from(sampleToyArray('moons', 8, { rng: replay }))).toEqual(Array.from(b));
    expect(() => sampleToy('moons', 8, { rng: {} as never })).toThrowError(/options.rng must be an Rng/);
  });
  it('eightGaussians: points sit near the 8 centres of radius 2', () => {
    const v = sampleToyArray('eightGaussians', 4000, { seed: 1, noise: 0.02 });
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 4000; i++) {
      const [x, y] = [v[2 * i], v[2 * i + 1]];
      expect(Math.abs(Math.hypot(x, y) - 2)).toBeLessThan(0.15);
      const k = Math.round(((Math.atan2(y, x) + 2 * Math.PI) % (2 * Math.PI)) / (Math.PI / 4)) % 8;
      expect(Math.hypot(x - 2 * Math.cos((k * Math.PI) / 4), y - 2 * Math.sin((k * Math.PI) / 4))).toBeLessThan(0.15);
      counts[k]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(400);
  });
  it('moons: without noise every point lies on one of the two half circles', () => {
    const v = sampleToyArray('moons', 2000, { seed: 2, noise: 0 });
    for (let i = 0; i < 2000; i++) {
      const x = v[2 * i] / 2 + 0.5;
      const y = v[2 * i + 1] / 2 + 0.25;
      const upper = Math.abs(Math.hypot(x, y) - 1) < 1e-5 && y >= -1e-6;
      const lower = Math.abs(Math.hypot(x - 1, y - 0.5) - 1) < 1e-5 && y <= 0.5 + 1e-6;
      expect(upper || lower).toBe(true);
    }
  });
  it('checkerboard: every point lies on a dark square of the 4x4 board, all 8 used', () => {
    const v = sampleToyArray('checkerboard', 4000, { seed: 3 });
    const used = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const cx = Math.floor(v[2 * i] + 2);
      const cy = Math.floor(v[2 * i + 1] + 2);
      expect(cx).toBeGreaterThanOrEqual(0);
      expect(cx).toBeLessThan(4);
      expect(cy).toBeGreaterThanOrEqual(0);
      expect(cy).toBeLessThan(4);
      expect((cx + cy) % 2).toBe(1);
      used.add(`${cx},${cy}`);
    }
    expect(used.size).toBe(8);
  });
  it('swissRoll: noiseless points follow the spiral r = t / 5 with t in [1.5 pi, 4.5 pi]', () => {
    const v = sampleToyArray('swissRoll', 500, { seed: 4, noise: 0 });
    for (let i = 0; i < 500; i++) {
      const t = 5 * Math.hypot(v[2 * i], v[2 * i + 1]);
      expect(t).toBeGreaterThanOrEqual(1.5 * Math.PI - 1e-4);
      expect(t).toBeLessThanOrEqual(4.5 * Math.PI + 1e-4);
      expect(Math.abs((t * Math.cos(t)) / 5 - v[2 * i])).toBeLessThan(1e-4);
    }
  });
  it('gaussian: 1-D and 2-D with given mean and std', () => {
    const g1 = sampleToy('gaussian', 10, { dim: 1 });
    expect(g1.shape).toEqual([10, 1]);
    g1.dispose();
    const m = moments(sampleToyArray('gaussian', 20000, { seed: 9, mean: [1, -2], std: [0.5, 2] }), 2);
    expect(m.mean[0]).toBeCloseTo(1, 1);
    expect(m.mean[1]).toBeCloseTo(-2, 1);
    expect(m.std[0]).toBeCloseTo(0.5, 1);
    expect(m.std[1]).toBeCloseTo(2, 1);
  });
  it('rejects bad arguments with FewstepError naming them', () => {
    expect(() => sampleToy('spiral' as never, 10)).toThrowError(/sampleToy: name must be one of/);
    expect(() => sampleToy('moons', 0)).toThrowError(/n must be an integer >= 1, got 0/);
    expect(() => sampleToy('moons', 10, { noise: -1 })).toThrowError(/options.noise/);
    expect(() => sampleToy('moons', 10, { seed: 1.5 })).toThrowError(/options.seed/);
    expect(() => sampleToy('gaussian', 10, { dim: 3 as never })).toThrowError(/options.dim must be 1 or 2/);
    expect(() => sampleToy('gaussian', 10, { dim: 2, mean: [0] })).toThrowError(/options.mean/);
    expect(() => sampleToy('gaussian', 10, { std: [1, -1] })).toThrowError(/options.std/);
    expect(() => sampleToy('moons', 0)).toThrowError(FewstepError);
  });
});
