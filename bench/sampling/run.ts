/**
 * bench/sampling — sampler throughput and overhead (a benchmark, not a test).
 *
 *   npx vite-node --config vitest.config.ts bench/sampling/run.ts [--reps 5] [--batch 4] [--size 16] [--width 16]
 *
 * A small UNet-shaped denoiser (conv / SiLU / time embedding / down / up / skip, fixed random weights,
 * EDM preconditioning) is sampled with 1 (one-step), 2 (ECT 2-step) and 35 (EDM Heun, 18 steps)
 * network evaluations. The sampler's own overhead per step is the run time minus NFE x the median
 * bare network call, divided by the number of steps, relative to one network call. Times are
 * process CPU time (the cpu backend is single-threaded), robust to other tenants on a shared machine.
 */
import * as tf from '@tensorflow/tfjs';
import { edmPreconditioning, precondition, seededNoise, type RawNetwork } from '@fewstep/core';
import { ectMultistepSampler, edmSampler, oneStepSampler, sample, type Sampler } from '@fewstep/samplers';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const REPS = arg('reps', 5);
const B = arg('batch', 4);
const S = arg('size', 16);
const C = arg('width', 16);

/** Fixed random weights (seeded), He-scaled. */
function weights(seed: number) {
  let k = seed;
  const conv = (cin: number, cout: number) => tf.randomNormal([3, 3, cin, cout], 0, Math.sqrt(2 / (9 * cin)), 'float32', k++);
  const dense = (cin: number, cout: number) => tf.randomNormal([cin, cout], 0, Math.sqrt(1 / cin), 'float32', k++);
  return {
    inConv: conv(3, C),
    emb: dense(1, C),
    c1: conv(C, C),
    down: conv(C, 2 * C),
    c2: conv(2 * C, 2 * C),
    up: conv(2 * C, C),
    outConv: conv(C, 3),
  };
}

function unet(w: ReturnType<typeof weights>): RawNetwork {
  const conv = (x: tf.Tensor4D, k: tf.Tensor) => tf.conv2d(x, k as tf.Tensor4D, 1, 'same');
  return (xIn, noiseLabel) =>
    tf.tidy(() => {
      const x = xIn as tf.Tensor4D;
      const e = tf.matMul(noiseLabel.reshape([-1, 1]), w.emb).reshape([-1, 1, 1, C]);
      const h0 = tf.add(tf.selu(conv(x, w.inConv)), e) as tf.Tensor4D;
      const h1 = tf.add(h0, tf.selu(conv(h0, w.c1))) as tf.Tensor4D;
      const d = tf.avgPool(h1, 2, 2, 'same');
      const h2 = tf.selu(conv(tf.selu(conv(d, w.down)), w.c2)) as tf.Tensor4D;
      const u = tf.image.resizeNearestNeighbor(h2, [S, S]);
      const h3 = tf.add(tf.selu(conv(u, w.up)), h1) as tf.Tensor4D;
      return conv(h3, w.outConv);
    });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/**
 * Process CPU time in ms (user + system). On a shared machine wall time mostly measures the other
 * tenants; the tfjs cpu backend is single-threaded, so CPU time is the work done.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main() {
  await tf.ready();
  const w = weights(1);
  const network = precondition(unet(w), edmPreconditioning());
  const x = tf.randomNormal([B, S, S, 3], 0, 1, 'float32', 9);
  const sigma = tf.fill([B], 2.5);
  const bareCall = () => {
    const t0 = cpuMs();
    const y = network(x, sigma);
    y.dataSync();
    y.dispose();
    return cpuMs() - t0;
  };
  const run = (sampler: Sampler, checkFinite: boolean) => {
    const t0 = cpuMs();
    const out = sample(sampler, { network, shape: [B, S, S, 3], noise: seededNoise(3), checkFinite });
    out.dataSync();
    out.dispose();
    return cpuMs() - t0;
  };
  const cases: { name: string; sampler: Sampler; nfe: number }[] = [
    { name: 'one-step (CM / ECT)', sampler: oneStepSampler(), nfe: 1 },
    { name: 'ECT 2-step (mid 0.821)', sampler: ectMultistepSampler({ midT: [0.821] }), nfe: 2 },
    { name: 'EDM Heun, 18 steps', sampler: edmSampler({ steps: 18 }), nfe: 35 },
  ];
  // Warm-up (kernel compilation / allocation), then interleaved repetitions so load spikes hit all cases.
  bareCall();
  for (const c of cases) run(c.sampler, true);
  const callTimes: number[] = [];
  const times = new Map<string, number[]>();
  for (let r = 0; r < REPS; r++) {
    for (let k = 0; k < 5; k++) callTimes.push(bareCall());
    for (const c of cases) {
      for (const cf of [true, false]) {
        const key = `${c.name}|${cf}`;
        times.set(key, [...(times.get(key) ?? []), run(c.sampler, cf)]);
      }
    }
  }
  const call = median(callTimes);
  // The sampler's own work, isolated: the same samplers on a near-free network (one multiply), whose
  // own cost is measured the same way and subtracted.
  const cheap = (xx: tf.Tensor) => tf.mul(xx, 0.5);
  const cheapCall = median(
    Array.from({ length: 200 }, () => {
      const t0 = cpuMs();
      for (let i = 0; i < 20; i++) {
        const y = cheap(x);
        y.dataSync();
        y.dispose();
      }
      return (cpuMs() - t0) / 20;
    }),
  );
  const ownCost = (c: { sampler: Sampler; nfe: number }, checkFinite: boolean) => {
    const steps = c.sampler.grid.length - 1;
    const per = median(
      Array.from({ length: 30 }, () => {
        const t0 = cpuMs();
        const out = sample(c.sampler, { network: (xx) => cheap(xx), shape: [B, S, S, 3], noise: seededNoise(3), checkFinite });
        out.dataSync();
        out.dispose();
        return cpuMs() - t0;
      }),
    );
    return (per - c.nfe * cheapCall) / steps;
  };
  const rows: string[] = [];
  rows.push(`backend ${tf.getBackend()}, batch ${B}, ${S}x${S}x3, width ${C}, ${REPS} interleaved repetitions (medians of process CPU time)`);
  rows.push(`bare network call: ${call.toFixed(2)} ms`);
  rows.push('');
  rows.push(`near-free network call (one multiply): ${cheapCall.toFixed(3)} ms`);
  rows.push('');
  rows.push('| sampler | NFE | CPU ms / batch | images/s (CPU time) | run - NFE x call, per step | sampler own cost / step (cheap net) | same, checkFinite off |');
  rows.push('| --- | --- | --- | --- | --- | --- | --- |');
  const perRun: Record<string, number> = {};
  for (const c of cases) {
    const on = median(times.get(`${c.name}|true`)!);
    const off = median(times.get(`${c.name}|false`)!);
    perRun[c.name] = on;
    const steps = c.sampler.grid.length - 1;
    const over = (t: number) => `${(((t - c.nfe * call) / steps / call) * 100).toFixed(1)}%`;
    const own = (cf: boolean) => {
      const ms = ownCost(c, cf);
      return `${ms.toFixed(3)} ms = ${((ms / call) * 100).toFixed(2)}% of a call`;
    };
    rows.push(`| ${c.name} | ${c.nfe} | ${on.toFixed(1)} | ${((1000 * B) / on).toFixed(1)} | ${over(on)} | ${own(true)} | ${own(false)} |`);
    void off;
  }
  rows.push('');
  rows.push(`one-step vs 35-NFE Heun: ${(perRun['EDM Heun, 18 steps'] / perRun['one-step (CM / ECT)']).toFixed(1)}x faster`);
  console.log(rows.join('\n'));
  tf.dispose([x, sigma, ...Object.values(w)]);
}

main();
