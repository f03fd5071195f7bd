// The MNIST example's checkpoints: a phase run in two pieces (stop, then resume from the
// checkpoint with fresh objects) ends bit-identical to the same phase run in one piece.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { edmPreconditioning, precondition } from '@fewstep/core';
import { initBackend } from '@fewstep/backends';
import { loadMnist } from '@fewstep/data';
import { edmLoss } from '@fewstep/losses';
import { SongUNet } from '@fewstep/nn';
import { runPhase, type PhaseOptions } from './train';

const dir = mkdtempSync(join(tmpdir(), 'fewstep-resume-'));
beforeAll(async () => {
  await initBackend('wasm'); // the example's default backend; cpu conv gradients are too slow for a unit test
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = loadMnist({ split: 'test', limit: 32 });
const tiny = () => new SongUNet({ imgResolution: 28, inChannels: 1, outChannels: 1, modelChannels: 4, channelMult: [1], numBlocks: 1, attnResolutions: [], seed: 3 });

function phase(path: string, steps: number): PhaseOptions & { dispose(): void } {
  const net = tiny();
  const ema = tiny();
  return {
    name: 'pretrain', net, ema, network: precondition(net.forward, edmPreconditioning()), loss: edmLoss(),
    steps, batchSize: 4, learningRate: 1e-3, emaDecay: 0.9, seed: 5, checkpointPath: path, checkpointEvery: 100, logEvery: 100, data,
    dispose: () => { net.dispose(); ema.dispose(); },
  };
}

const weights = (m: SongUNet) => m.namedParameters().map(([, v]) => Array.from(v.dataSync()));

describe('mnist-ect checkpoints', () => {
  it('resuming continues exactly: weights, EMA, optimizer state, batches, noise and loss history', async () => {
    const whole = phase(join(dir, 'whole.safetensors'), 3);
    const a = await runPhase(whole);
    const first = phase(join(dir, 'split.safetensors'), 1);
    await runPhase(first);
    first.dispose();
    const second = phase(join(dir, 'split.safetensors'), 3); // fresh objects, same checkpoint path
    const b = await runPhase(second);
    expect(b.resumedFrom).toBe(1);
    expect(b.losses).toEqual(a.losses);
    expect(weights(second.net)).toEqual(weights(whole.net));
    expect(weights(second.ema)).toEqual(weights(whole.ema));
    const again = phase(join(dir, 'split.safetensors'), 3); // finished: nothing to do
    const c = await runPhase(again);
    expect(c.steps).toBe(3);
    expect(c.losses).toEqual(a.losses);
    for (const p of [whole, second, again]) p.dispose();
  });

  it('a time budget ends the phase for good', async () => {
    const p = phase(join(dir, 'budget.safetensors'), 50);
    const r = await runPhase({ ...p, budgetSeconds: 0 });
    expect(r.steps).toBe(1);
    const q = phase(join(dir, 'budget.safetensors'), 50);
    expect((await runPhase(q)).steps).toBe(1);
    p.dispose();
    q.dispose();
  });
});
