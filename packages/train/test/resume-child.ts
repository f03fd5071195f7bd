/**
 * The fresh process of the exact-resume test: builds the run from scratch (other initial
 * weights), loads the checkpoint `<dir>/half`, trains `steps` more and saves `<dir>/final`.
 */
import * as tf from '@tensorflow/tfjs';
import { NodeStore, loadCheckpoint, saveCheckpoint } from '@fewstep/train';
import { makeRun } from './run';

async function main(): Promise<void> {
  const [dir, steps] = [process.argv[2]!, Number(process.argv[3])];
  await tf.setBackend('cpu');
  const store = new NodeStore(dir);
  const run = makeRun(99);
  const loaded = await loadCheckpoint(store, run.state(), { name: 'half' });
  run.step = loaded.step;
  run.noise = loaded.noise.loss!;
  run.data = loaded.noise.data!;
  for (let i = 0; i < steps; i++) run.trainStep();
  await saveCheckpoint(store, run.state(), { name: 'final' });
  process.stdout.write(`done ${run.step}\n`);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
