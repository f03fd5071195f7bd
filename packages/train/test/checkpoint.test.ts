import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FewstepError, replayNoise, seededNoise } from '@fewstep/core';
import { MLP } from '@fewstep/nn';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { MemoryStore, NodeStore, listCheckpoints, loadCheckpoint, saveCheckpoint, verifyCheckpoint } from '@fewstep/train';
import { makeRun, snapshot } from './run';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = mkdtempSync(join(tmpdir(), 'fewstep-ckpt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function trained(steps: number, seed = 1) {
  const run = makeRun(seed);
  for (let i = 0; i < steps; i++) run.trainStep();
  return run;
}

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips networks, EMA, optimizer moments and step, noise, loss stage and metadata bit-exactly', async () => {
    const a = await trained(5);
    const store = new MemoryStore();
    const manifest = await saveCheckpoint(store, a.state());
    expect(manifest.step).toBe(5);
    expect(manifest.losses.ect).toEqual({ stage: 1 });
    expect(manifest.optimizer?.iterations).toBe(5);
    const b = makeRun(7); // different initial weights
    const loaded = await loadCheckpoint(store, b.state());
    expect(loaded.step).toBe(5);
    expect(loaded.metadata).toEqual({ recipe: 'test', seed: 1 });
    expect(loaded.noise.loss!.state()).toEqual(a.noise.state());
    expect(loaded.noise.data!.state()).toEqual(a.data.state());
    expect(b.ema.updates).toBe(5);
    expect(b.opt.step).toBe(5);
    expect(await snapshot(b)).toEqual(await snapshot(a));
    a.dispose();
    b.dispose();
  });

  it('leaks no tensors on save and load', async () => {
    const a = await trained(1);
    const b = await trained(1, 3); // its optimizer already has moments: a load assigns, creates nothing
    const store = new MemoryStore();
    await expectNoLeak(() => saveCheckpoint(store, a.state()).then(() => undefined));
    await expectNoLeak(() => loadCheckpoint(store, b.state()).then(() => undefined));
    a.dispose();
    b.dispose();
  });

  it('writes files atomically in Node, replaces a name in place and keeps the newest `keep`', async () => {
    const store = new NodeStore(join(dir, 'keep'));
    const run = await trained(1);
    await saveCheckpoint(store, run.state(), { name: 'latest' });
    run.trainStep();
    await saveCheckpoint(store, run.state(), { name: 'latest' });
    let files = readdirSync(join(dir, 'keep'));
    expect(files.filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    expect(files.filter((f) => f.startsWith('.'))).toHaveLength(0);
    expect((await verifyCheckpoint(store, 'latest')).manifest.step).toBe(2);
    for (let i = 0; i < 3; i++) {
      run.trainStep();
      await saveCheckpoint(store, run.state(), { keep: 2 });
    }
    const names = (await listCheckpoints(store)).map((m) => m.name);
    expect(names).toEqual(['step-000000004', 'step-000000005']);
    files = readdirSync(join(dir, 'keep'));
    expect(files.filter((f) => f.endsWith('.safetensors'))).toHaveLength(2);
    expect((await loadCheckpoint(store, makeRun(2).state())).step).toBe(5); // latest by step
    run.dispose();
  });

  it('saves a network given as named variables and a replay-noise state', async () => {
    const v = { w: tf.variable(tf.tensor([1, 2, 3])) };
    const store = new MemoryStore();
    await saveCheckpoint(store, { step: 0, modules: { net: v }, noise: { golden: replayNoise([{ data: [1] }], 1) } });
    const w2 = { w: tf.variable(tf.zeros([3])) };
    const loaded = await loadCheckpoint(store, { modules: { net: w2 } });
    expect(Array.from(w2.w.dataSync())).toEqual([1, 2, 3]);
    expect(loaded.noiseStates.golden).toEqual({ kind: 'replay', position: 1 });
    expect(loaded.noise.golden).toBeUndefined();
    tf.dispose([v.w, w2.w]);
  });
});

describe('verification errors name what does not match', () => {
  async function savedTo(name: string) {
    const store = new NodeStore(join(dir, name));
    const run = await trained(1);
    const manifest = await saveCheckpoint(store, run.state(), { name: 'c' });
    run.dispose();
    return { store, manifest, path: join(dir, name) };
  }

  it('a flipped byte in the tensors file fails the file checksum', async () => {
    const { store, manifest, path } = await savedTo('flip');
    const file = join(path, manifest.tensorsFile);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(file, bytes);
    await expect(verifyCheckpoint(store)).rejects.toThrow(/is corrupt: .*safetensors has SHA-256 [0-9a-f]{64}, the manifest says/);
  });

  it('a tensor whose checksum in the manifest differs is named', async () => {
    const { store, path } = await savedTo('tensor-sha');
    const mf = join(path, 'c.ckpt.json');
    const m = JSON.parse(readFileSync(mf, 'utf8'));
    m.tensors['module/online.in_proj.weight'].sha256 = '0'.repeat(64);
    writeFileSync(mf, JSON.stringify(m));
    await expect(verifyCheckpoint(store)).rejects.toThrow(/tensor module\/online\.in_proj\.weight fails its SHA-256 check/);
  });

  it('a truncated file and a missing file are reported', async () => {
    const { store, manifest, path } = await savedTo('trunc');
    const file = join(path, manifest.tensorsFile);
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    await expect(verifyCheckpoint(store)).rejects.toThrow(/has 100 bytes, the manifest says/);
    rmSync(file);
    await expect(verifyCheckpoint(store)).rejects.toThrow(/tensors file .* is missing/);
  });

  it('a network of another shape: every mis-shaped tensor named with both shapes, nothing assigned', async () => {
    const { store } = await savedTo('shape');
    const other = new MLP({ dim: 2, hiddenChannels: 12, numLayers: 2, embeddingChannels: 8 });
    const before = Array.from(other.inProj.weight.dataSync());
    const err = await loadCheckpoint(store, { modules: { online: other } }).catch((e) => e);
    expect(err).toBeInstanceOf(FewstepError);
    expect(err.message).toMatch(/module\/online\.in_proj\.weight has shape \[16,2\], the network expects \[12,2\]/);
    expect(err.message).toMatch(/module\/online\.out_proj\.weight has shape \[2,16\], the network expects \[2,12\]/);
    expect(Array.from(other.inProj.weight.dataSync())).toEqual(before);
    other.dispose();
  });

  it('missing roles, missing and unexpected tensors, a changed loss schedule, a wrong optimizer', async () => {
    const { store } = await savedTo('roles');
    const run = makeRun(2);
    const bigger = new MLP({ dim: 2, hiddenChannels: 16, numLayers: 3, embeddingChannels: 8 });
    await expect(loadCheckpoint(store, { modules: { teacher: run.net } })).rejects.toThrow(/module role "teacher" is not in the checkpoint \(it has "online", "target"\)/);
    await expect(loadCheckpoint(store, { modules: { online: bigger } })).rejects.toThrow(/missing tensor module\/online\.layers\.1\.weight/);
    const smaller = new MLP({ dim: 2, hiddenChannels: 16, numLayers: 1, embeddingChannels: 8 });
    await expect(loadCheckpoint(store, { modules: { online: smaller } })).rejects.toThrow(/unexpected tensor module\/online\.layers\.0\.weight/);
    const { ectLoss } = await import('@fewstep/losses');
    await expect(loadCheckpoint(store, { losses: { ect: ectLoss({ stage: 3 }) } })).rejects.toThrow(/loss "ect" is at stage 3 at step 1 with this schedule, the checkpoint was saved at stage 0/);
    const { AdamW } = await import('@fewstep/core');
    await expect(loadCheckpoint(store, { modules: { online: run.net }, optimizer: new AdamW() })).rejects.toThrow(/optimizer is a FewstepAdamW, the checkpoint holds a FewstepRAdam/);
    run.dispose();
    bigger.dispose();
    smaller.dispose();
  });

  it('bad arguments throw FewstepError naming the argument', async () => {
    const store = new MemoryStore();
    await expect(loadCheckpoint(store, {})).rejects.toThrow(/store must hold a checkpoint, got none in memory/);
    await expect(verifyCheckpoint(store, 'nope')).rejects.toThrow(/name must be a checkpoint in memory, got "nope"/);
    await expect(saveCheckpoint(store, { step: -1 })).rejects.toThrow(/state.step must be an integer >= 0/);
    await expect(saveCheckpoint(store, { step: 0 }, { name: '../x' })).rejects.toThrow(/saveCheckpoint: key must be a name/);
    await expect(saveCheckpoint(store, { step: 0, metadata: { n: 1n } as never })).rejects.toThrow(/metadata must be JSON-serialisable/);
    await expect(saveCheckpoint({} as never, { step: 0 })).rejects.toThrow(/store must be a CheckpointStore/);
    await expect(saveCheckpoint(store, { step: 0 }, { keep: 0 })).rejects.toThrow(/keep must be an integer >= 1/);
    await expect(saveCheckpoint(store, { step: 0, noise: { n: {} as never } })).rejects.toThrow(/noise.n must be a NoiseSource/);
    await expect(saveCheckpoint(store, { step: 0, losses: { l: {} } })).rejects.toThrow(/losses.l must be a loss with stageAt/);
    await expect(saveCheckpoint(store, { step: 0, modules: { 'a.b': {} } })).rejects.toThrow(/modules must be roles/);
    await expect(saveCheckpoint(store, { step: 0, modules: { a: { w: tf.zeros([1]) as never } } })).rejects.toThrow(/modules.a.w must be a tf.Variable/);
    await store.put('bad.ckpt.json', new TextEncoder().encode('{'));
    await expect(listCheckpoints(store)).rejects.toThrow(/manifest bad.ckpt.json must be JSON/);
    await store.put('bad.ckpt.json', new TextEncoder().encode('{"format":"x"}'));
    await expect(listCheckpoints(store)).rejects.toThrow(/must have format "fewstep-checkpoint", got "x"/);
    expect(() => new NodeStore('')).toThrow(FewstepError);
    await expect(new MemoryStore().put('a/b', new Uint8Array(1))).rejects.toThrow(FewstepError);
    const noise = seededNoise(1);
    expect(noise.state().kind).toBe('seeded');
  });
});
