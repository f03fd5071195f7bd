// fewstep quickstart: train a 2-D diffusion teacher with the EDM loss, ECT-tune a copy to one step,
// and compare teacher (18 Heun steps = 35 network evaluations) with ECT at 1 and 2 steps.
// Run: npm run quickstart   (options: --backend cpu|wasm|auto  --data moons|eightGaussians|...  --out DIR)
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '@fewstep/backends';
import type { ToyDistribution } from '@fewstep/data';
import { writeOutput } from '@fewstep/eval';
import { runQuickstart } from './quickstart';
import { scatterPng } from './scatter';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    data: { type: 'string', default: 'moons' },
    out: { type: 'string', default: 'examples/quickstart/out' },
    'pretrain-steps': { type: 'string', default: '1200' },
    'tune-steps': { type: 'string', default: '3600' },
    samples: { type: 'string', default: '1000' },
  },
});

async function main(): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const backend = await initBackend(args.backend as BackendChoice);
  console.log(`fewstep quickstart on ${backend.backend} (${backend.reason})`);
  const result = runQuickstart({
    data: args.data as ToyDistribution,
    pretrainSteps: Number(args['pretrain-steps']),
    tuneSteps: Number(args['tune-steps']),
    batchSize: 256,
    samples: Number(args.samples),
    hidden: 128,
    seed: 0,
    log: (line) => console.log(line),
  });
  writeOutput(`${args.out}/ect-mlp.safetensors`, result.ectWeights);
  const path = `${args.out}/samples.png`;
  writeOutput(
    path,
    scatterPng([
      { title: 'data', points: result.data, color: [90, 90, 90] },
      ...result.methods.map((m, i) => ({ title: `${m.label} (${m.nfe} NFE)`, points: m.points, color: ([[0, 114, 178], [213, 94, 0], [0, 158, 115]] as const)[i] as [number, number, number] })),
    ]),
  );
  console.log(`\n${args.data}, ${args.samples} samples each, against ${args.samples} fresh data points (lower is better):`);
  console.log(`  ${'method'.padEnd(24)} ${'NFE'.padStart(4)} ${'MMD'.padStart(9)} ${'sliced W2^2'.padStart(12)}`);
  for (const m of result.methods) console.log(`  ${m.label.padEnd(24)} ${String(m.nfe).padStart(4)} ${m.mmd.toFixed(5).padStart(9)} ${m.sw.toFixed(5).padStart(12)}`);
  console.log(`  ${'(fresh data itself)'.padEnd(24)} ${''.padStart(4)} ${result.reference.mmd.toFixed(5).padStart(9)} ${result.reference.sw.toFixed(5).padStart(12)}`);
  const total = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(`\nteacher training ${result.pretrainSeconds.toFixed(1)} s, ECT tuning ${result.tuneSeconds.toFixed(1)} s, total ${total.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; plot: ${path}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
