import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { DhariwalUNet, InitRng as Rng, SongUNet, weightInit, type InitMode } from '@fewstep/nn';

beforeAll(async () => {
  await useTestBackend();
});

function stats(a: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let m = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
    m = Math.max(m, Math.abs(v));
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), maxAbs: m };
}

describe('weightInit', () => {
  const fanIn = 30;
  const fanOut = 20;
  const cases: [InitMode, number, boolean][] = [
    ['xavier_uniform', Math.sqrt(6 / 50), true],
    ['xavier_normal', Math.sqrt(2 / 50), false],
    ['kaiming_uniform', Math.sqrt(3 / 30), true],
    ['kaiming_normal', Math.sqrt(1 / 30), false],
  ];
  for (const [mode, scale, uniform] of cases) {
    it(`${mode} has EDM's scale`, () => {
      const s = stats(weightInit(40000, mode, fanIn, fanOut, new Rng(1)));
      // U(-1,1)·scale has std scale/sqrt(3) and |x| <= scale; N(0,1)·scale has std scale.
      const std = uniform ? scale / Math.sqrt(3) : scale;
      expect(Math.abs(s.mean)).toBeLessThan(0.02 * scale);
      expect(Math.abs(s.std - std) / std).toBeLessThan(0.02);
      if (uniform) expect(s.maxAbs).toBeLessThanOrEqual(scale);
    });
  }
  it('is deterministic per seed and rejects bad input', () => {
    expect(Array.from(weightInit(5, 'xavier_normal', 2, 2, new Rng(7)))).toEqual(Array.from(weightInit(5, 'xavier_normal', 2, 2, new Rng(7))));
    expect(Array.from(weightInit(5, 'xavier_normal', 2, 2, new Rng(7)))).not.toEqual(Array.from(weightInit(5, 'xavier_normal', 2, 2, new Rng(8))));
    expect(() => weightInit(5, 'he' as never, 2, 2, new Rng(0))).toThrow(/mode must be one of/);
    expect(() => weightInit(5, 'xavier_normal', 0, 2, new Rng(0))).toThrow(/fanIn must be a number > 0/);
  });
});

describe('network initialisation presets', () => {
  const cfg = { imgResolution: 8, inChannels: 3, outChannels: 3, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4] };
  it('SongUNet: init_zero layers are tiny, biases zero, GroupNorm 1/0, same seed same weights', () => {
    const a = new SongUNet({ ...cfg, seed: 5 });
    const b = new SongUNet({ ...cfg, seed: 5 });
    const conv1 = stats(a.getEntry('enc.8x8_block0.conv1.weight')!.variable.dataSync() as Float32Array);
    expect(conv1.maxAbs).toBeGreaterThan(0);
    expect(conv1.maxAbs).toBeLessThan(1e-5);
    expect(stats(a.getEntry('enc.8x8_block0.conv0.weight')!.variable.dataSync() as Float32Array).maxAbs).toBeGreaterThan(1e-2);
    expect(Array.from(a.getEntry('map_layer0.bias')!.variable.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(a.getEntry('enc.8x8_block0.norm0.weight')!.variable.dataSync()).every((v) => v === 1)).toBe(true);
    for (const [n, e] of a.namedEntries()) expect(Array.from(e.variable.dataSync()), n).toEqual(Array.from(b.getEntry(n)!.variable.dataSync()));
    a.dispose();
    b.dispose();
  });
  it('DhariwalUNet: zero-initialised layers are exact zeros and biases are drawn', () => {
    const net = new DhariwalUNet({ ...cfg, labelDim: 4 });
    for (const name of ['out_conv.weight', 'out_conv.bias', 'enc.8x8_block0.conv1.weight']) {
      expect(Array.from(net.getEntry(name)!.variable.dataSync()).every((v) => v === 0), name).toBe(true);
    }
    const bias = stats(net.getEntry('map_layer0.bias')!.variable.dataSync() as Float32Array);
    expect(bias.maxAbs).toBeGreaterThan(0);
    expect(bias.maxAbs).toBeLessThanOrEqual(1 / Math.sqrt(8));
    // map_label: kaiming_normal · sqrt(label_dim) = N(0, 1).
    expect(stats(net.getEntry('map_label.weight')!.variable.dataSync() as Float32Array).std).toBeGreaterThan(0.5);
    net.dispose();
  });
});
