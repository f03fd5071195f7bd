// IndexedDbStore against fake-indexeddb (an in-memory IndexedDB implementation for Node).
import 'fake-indexeddb/auto';
import { beforeAll, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { IndexedDbStore, listCheckpoints, loadCheckpoint, saveCheckpoint, verifyCheckpoint } from '@fewstep/train';
import { makeRun, snapshot } from './run';

beforeAll(async () => {
  await useTestBackend();
});

it('IndexedDbStore: save, list, verify, load bit-exactly, replace and prune', async () => {
  const store = new IndexedDbStore('fewstep-test');
  const a = makeRun(1);
  a.trainStep();
  await saveCheckpoint(store, a.state(), { keep: 1 });
  a.trainStep();
  await saveCheckpoint(store, a.state(), { keep: 1 });
  expect((await listCheckpoints(store)).map((m) => m.step)).toEqual([2]);
  expect((await store.keys()).sort()).toEqual(['step-000000002.ckpt.json', (await verifyCheckpoint(store)).manifest.tensorsFile].sort());
  const b = makeRun(4);
  await loadCheckpoint(store, b.state());
  expect(await snapshot(b)).toEqual(await snapshot(a));
  await store.delete('step-000000002.ckpt.json');
  await expect(loadCheckpoint(store, b.state())).rejects.toThrow(/store must hold a checkpoint, got none in indexeddb:fewstep-test\/files/);
  await expect(store.put('a/b', new Uint8Array(1))).rejects.toThrow(/key must be a name/);
  a.dispose();
  b.dispose();
});
