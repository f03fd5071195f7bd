import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, seededNoise } from '@fewstep/core';
import { useTestBackend } from '@fewstep/testing';
import { NestedSchedule, NestedUNet, ProgressiveSchedule, UNet, initializeInner, nestedLoss, type UNetConfig } from '@fewstep/mdm';

beforeAll(async () => {
  await useTestBackend();
});

const INNER: UNetConfig = { resolutionChannels: [8, 8], numResnetsPerResolution: 1, attentionLevels: [1], numGroupsNorm: 4, attentionGroups: 4, numHeads: 2, temporalDim: 16 };

describe('progressive training', () => {
  it('says which resolutions are active at a step', () => {
    const p = new ProgressiveSchedule([
      { sides: [14], steps: 100 },
      { sides: [28, 14], steps: 50 },
      { sides: [56, 28, 14], steps: Infinity },
    ]);
    expect(p.at(0)).toMatchObject({ stage: 0, sides: [14], numResolutions: 1, grows: false });
    expect(p.at(99).stage).toBe(0);
    expect(p.at(100)).toMatchObject({ stage: 1, sides: [28, 14], stepInStage: 0, grows: true });
    expect(p.at(150)).toMatchObject({ stage: 2, numResolutions: 3, grows: true });
    expect(p.at(10_000).stage).toBe(2);
    expect(p.scales(2)).toEqual([4, 2, 1]);
    expect(p.totalSteps).toBe(Infinity);
    expect(() => new ProgressiveSchedule([{ sides: [28, 14], steps: 5 }, { sides: [56, 14], steps: 5 }])).toThrow(FewstepError);
    expect(() => new ProgressiveSchedule([{ sides: [14], steps: 0 }])).toThrow(/steps/);
    expect(() => new ProgressiveSchedule([])).toThrow(FewstepError);
  });

  it('initialises a nested model from a trained smaller one: the low resolution output is unchanged', () => {
    // Stage 1: train the small UNet a few steps.
    const small = new UNet(1, 1, INNER, { seed: 1 });
    const loss1 = nestedLoss({ schedule: new NestedSchedule({ scales: [1], steps: 100 }) });
    const x = tf.randomUniform([2, 8, 8, 1], -1, 1, 'float32', 2);
    const opt = tf.train.adam(1e-2);
    const noise = seededNoise(5);
    for (let i = 0; i < 2; i++) opt.minimize(() => loss1.compute({ network: small.asNetwork(), x, noise }).loss, false, small.trainableParameters());
    // Stage 2: a 16/8 nested model around it.
    const nested = new NestedUNet(1, 1, { resolutionChannels: [4, 8], numResnetsPerResolution: 1, attentionLevels: [], numGroupsNorm: 4, inner: INNER }, { seed: 9 });
    initializeInner(nested, small, { freeze: true });
    const a = small.getEntry('down_blocks.1.attn.0.qkv.weight')!.variable;
    const b = nested.getEntry('inner_unet.down_blocks.1.attn.0.qkv.weight')!.variable;
    expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBe(0);
    // Zero-initialised adapters: the inner network starts exactly as the trained small model.
    const hi = tf.randomNormal([2, 16, 16, 1], 0, 1, 'float32', 3);
    const lo = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 4);
    const t = tf.tensor1d([10, 700]);
    const [, outLow] = nested.forward([hi, lo], t);
    const [ref] = small.forward([lo], t);
    expect(tf.max(tf.abs(outLow.sub(ref))).dataSync()[0]).toBeLessThan(1e-5);
    // Frozen inner network: only the outer network and adapters train.
    const names = new Set(nested.trainableParameters().map((v) => v.name));
    expect(names.has(b.name)).toBe(false);
    expect(names.has(nested.getEntry('in_adapter.weight')!.variable.name)).toBe(true);
    tf.dispose([x, hi, lo, t, outLow, ref]);
    opt.dispose();
    small.dispose();
    nested.dispose();
  });

  it('rejects weights of another configuration', () => {
    const small = new UNet(1, 1, { ...INNER, resolutionChannels: [8, 16] });
    const nested = new NestedUNet(1, 1, { resolutionChannels: [4, 8], numResnetsPerResolution: 1, attentionLevels: [], numGroupsNorm: 4, inner: INNER });
    expect(() => initializeInner(nested, small)).toThrow(FewstepError);
    expect(() => initializeInner(nested, small)).toThrow(/shape/);
    small.dispose();
    nested.dispose();
  });
});
