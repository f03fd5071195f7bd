/**
 * The process the crash test kills: it resumes from the latest checkpoint in `dir` (if any) and
 * then saves checkpoints in a loop forever, printing `saved <step>` after each completed save.
 * The content of step s is a pure function of s (see `expectedValue`), so the parent can check
 * that whatever it loads after a kill is one complete, consistent checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { NodeStore, listCheckpoints, loadCheckpoint, saveCheckpoint } from '@fewstep/train';
import { CRASH_SHAPES, expectedValue } from './crash-shared';

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  await tf.setBackend('cpu');
  // Announces each file write so the parent can aim some kills into the middle of one.
  const store = new (class extends NodeStore {
    override async put(key: string, bytes: Uint8Array): Promise<void> {
      process.stdout.write(`put ${key}\n`);
      return super.put(key, bytes);
    }
  })(dir);
  await store.removeTemporary();
  const vars = Object.fromEntries(CRASH_SHAPES.map(([n, s]) => [n, tf.variable(tf.zeros(s))]));
  let step = 0;
  if ((await listCheckpoints(store)).length > 0) step = (await loadCheckpoint(store, { modules: { net: vars } })).step + 1;
  process.stdout.write(`ready ${step}\n`);
  for (;;) {
    for (const [n, s] of CRASH_SHAPES) {
      const size = s.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: size }, (_, i) => expectedValue(step, n, i));
      tf.tidy(() => vars[n]!.assign(tf.tensor(data, s)));
    }
    await saveCheckpoint(store, { step, modules: { net: vars }, metadata: { step } }, { keep: 3 });
    process.stdout.write(`saved ${step}\n`);
    step++;
  }
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
