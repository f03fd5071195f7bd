import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { NodeStore, loadCheckpoint, saveCheckpoint } from '@fewstep/train';
import { makeRun, snapshot } from './run';

const N = 10; // crosses ECT stages 0 -> 1 -> 2 (stage = floor(step / 4)) and RAdam's rectification switch
const root = resolve(__dirname, '../../..');
let dir: string;

beforeAll(async () => {
  await useTestBackend();
  dir = mkdtempSync(join(tmpdir(), 'fewstep-resume-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it(`N=${N} steps in one go == N/2 steps, save, load in a fresh process, N/2 more (bit-identical, cpu)`, async () => {
  const straight = makeRun(1);
  const losses: number[] = [];
  for (let i = 0; i < N; i++) losses.push(straight.trainStep());
  expect(losses.every(Number.isFinite)).toBe(true);

  const half = makeRun(1);
  for (let i = 0; i < N / 2; i++) half.trainStep();
  const store = new NodeStore(dir);
  await saveCheckpoint(store, half.state(), { name: 'half' });
  half.dispose();

  const out = execFileSync(process.execPath, ['--import', 'tsx', 'packages/train/test/resume-child.ts', dir, String(N / 2)], {
    cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(out).toContain(`done ${N}`);

  const resumed = makeRun(5);
  const loaded = await loadCheckpoint(store, resumed.state(), { name: 'final' });
  expect(loaded.step).toBe(N);
  expect(loaded.noiseStates).toEqual({ loss: straight.noise.state(), data: straight.data.state() });
  const a = await snapshot(straight);
  const b = await snapshot(resumed);
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]); // exact float equality
  // The check has teeth: one more step on one side changes the parameters.
  resumed.trainStep();
  expect((await snapshot(resumed))['online.in_proj.weight']).not.toEqual(a['online.in_proj.weight']);
  straight.dispose();
  resumed.dispose();
});
