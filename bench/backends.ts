/**
 * Backend benchmark: conv forward / filter-gradient / input-gradient GFLOP/s and a small conv-net
 * training step (img/s) on cpu and wasm, stock versus with @fewstep/backends' kernels, in one run
 * (machines are shared and noisy: compare the ratios of one run). Writes its section of
 * docs/benchmarks.md. Run: `npm run bench:backends` (FEWSTEP_BENCH_QUICK=1 for a short run).
 */
import { sectionLog, writeBenchmarkSection } from './doc-section';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { GroupNorm } from '@fewstep/nn';
import { initBackend, registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';

const QUICK = process.env.FEWSTEP_BENCH_QUICK === '1';
type Setup = 'cpu stock' | 'cpu + ours' | 'wasm stock' | 'wasm + ours';
const SETUPS: Setup[] = ['cpu stock', 'cpu + ours', 'wasm stock', 'wasm + ours'];

async function use(setup: Setup): Promise<void> {
  const backend = setup.startsWith('wasm') ? 'wasm' : 'cpu';
  // One wasm thread: kernels are compared with stock wasm, which runs on one thread in Node.
  await initBackend(backend, { registerKernels: false, ...(backend === 'wasm' ? { threads: 1 } : {}) });
  unregisterTrainingKernels();
  // cpu's stock nearest-resize gradient is wrong for batch > 1; every cpu row uses the fix.
  if (backend === 'cpu') registerTrainingKernels('cpu', { only: ['ResizeNearestNeighborGrad'] });
  if (setup.endsWith('ours')) registerTrainingKernels(backend);
  // IS_TEST only silenced the "install tfjs-node" banner (printed when a backend is first made);
  // left on, tfjs's per-kernel leak check rejects a custom op that saves a tensor on stock wasm
  // (whose Identity copies it): nn's composite GroupNorm gradient.
  tf.env().set('IS_TEST', false);
}

/** Median seconds of `reps` timed calls after one warm-up call, stopping early past `budget` s. */
function timeIt(fn: () => tf.Tensor | tf.Tensor[], reps: number, budget = 20): number {
  const once = () => {
    const t0 = performance.now();
    const out = tf.tidy(fn);
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    tf.dispose(out);
    return (performance.now() - t0) / 1000;
  };
  const first = once();
  if (first > budget / 2) return first;
  const times: number[] = [];
  let spent = 0;
  while (times.length < reps && spent < budget) {
    const t = once();
    times.push(t);
    spent += t;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Median seconds of each of several functions, timed round-robin (one call of each per round)
 * so that load changes on a shared machine hit all of them alike: their ratios are what count.
 * A function that fails reports why; one slower than budget/2 is timed once.
 */
function timeInterleaved(fns: Record<string, () => tf.Tensor>, reps: number, budget = 20): Record<string, number | string> {
  const once = (fn: () => tf.Tensor) => {
    const t0 = performance.now();
    const out = tf.tidy(fn);
    out.dataSync();
    out.dispose();
    return (performance.now() - t0) / 1000;
  };
  const times: Record<string, number[]> = {};
  const out: Record<string, number | string> = {};
  for (const [name, fn] of Object.entries(fns)) {
    try {
      const first = once(fn);
      times[name] = first > budget / 2 ? [first] : [];
    } catch (e) {
      out[name] = /not registered/.test(String(e)) ? 'missing' : `error: ${String(e).slice(0, 60)}`;
    }
  }
  const spent = (n: string) => times[n].reduce((a, b) => a + b, 0);
  for (let rep = 0; rep < reps; rep++) {
    for (const name of Object.keys(times)) {
      if (times[name].length <= rep && spent(name) < budget) times[name].push(once(fns[name]));
    }
  }
  for (const [name, v] of Object.entries(times)) {
    v.sort((a, b) => a - b);
    out[name] = v[Math.floor(v.length / 2)];
  }
  return out;
}

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
}

const CONVS: ConvCase[] = [
  { name: '3x3 s1, 28x28, 32->32', x: [16, 28, 28, 32], w: [3, 3, 32, 32], stride: 1 },
  { name: '3x3 s2, 28x28, 32->64', x: [16, 28, 28, 32], w: [3, 3, 32, 64], stride: 2 },
  { name: '3x3 s1, 16x16, 64->64', x: [16, 16, 16, 64], w: [3, 3, 64, 64], stride: 1 },
];

type Kind = 'forward' | 'filter grad' | 'input grad';

/** GFLOP/s of the three conv kernels on one setup, timed interleaved. Slow stock kernels get a smaller batch. */
function convGflops(c: ConvCase, setup: Setup): Record<Kind, number | string> {
  const kinds: Kind[] = ['forward', 'filter grad', 'input grad'];
  const fns: Record<string, () => tf.Tensor> = {};
  const flops: Record<string, number> = {};
  const held: tf.Tensor[] = [];
  for (const kind of kinds) {
    const slow = setup === 'cpu stock' && kind === 'filter grad';
    const batch = slow ? 1 : setup.startsWith('cpu') ? 4 : c.x[0];
    const xShape: [number, number, number, number] = [batch, c.x[1], c.x[2], c.x[3]];
    const ho = Math.ceil(c.x[1] / c.stride);
    const wo = Math.ceil(c.x[2] / c.stride);
    flops[kind] = 2 * batch * ho * wo * c.w[0] * c.w[1] * c.w[2] * c.w[3];
    const x = tf.randomNormal(xShape);
    const w = tf.randomNormal(c.w);
    const dy = tf.randomNormal([batch, ho, wo, c.w[3]]);
    held.push(x, w, dy);
    const attrs = { strides: c.stride, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
    fns[kind] =
      kind === 'forward'
        ? () => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, 'same')
        : kind === 'filter grad'
          ? () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.w } as never) as tf.Tensor
          : () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape } as never) as tf.Tensor;
  }
  try {
    const secs = timeInterleaved(fns, QUICK ? 3 : 7);
    const out = {} as Record<Kind, number | string>;
    for (const kind of kinds) {
      const t = secs[kind];
      out[kind] = typeof t === 'number' ? flops[kind] / t / 1e9 : t;
    }
    return out;
  } finally {
    tf.dispose(held);
  }
}

interface MatMulCase {
  name: string;
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
}

const MATMULS: MatMulCase[] = [
  { name: '512x256 @ 256x512', a: [512, 256], b: [256, 512], tA: false, tB: false },
  { name: 'same, transposeA (dense dW)', a: [256, 512], b: [256, 512], tA: true, tB: false },
  { name: 'same, transposeB (dense dx)', a: [512, 256], b: [512, 256], tA: false, tB: true },
  { name: 'batch 16: 256x64 @ 64x256ᵀ (attention)', a: [16, 256, 64], b: [16, 256, 64], tA: false, tB: true },
];

function matMulGflops(c: MatMulCase): number | string {
  const a = tf.randomNormal(c.a);
  const b = tf.randomNormal(c.b);
  const m = c.tA ? c.a[c.a.length - 1] : c.a[c.a.length - 2];
  const k = c.tA ? c.a[c.a.length - 2] : c.a[c.a.length - 1];
  const n = c.tB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  try {
    return (2 * batch * m * k * n) / timeIt(() => tf.matMul(a, b, c.tA, c.tB), QUICK ? 3 : 7) / 1e9;
  } finally {
    tf.dispose([a, b]);
  }
}

interface MemCase {
  name: string;
  outSize: number;
  make: () => tf.Tensor[];
  run: (t: tf.Tensor[]) => tf.Tensor;
}

/** Memory-bound kernels: ms per call, and that time over an Add producing as many elements. */
const MEMS: MemCase[] = [
  {
    name: 'Tile [16,16,16,64] x [1,2,2,1]',
    outSize: 16 * 32 * 32 * 64,
    make: () => [tf.randomNormal([16, 16, 16, 64])],
    run: ([x]) => tf.tile(x, [1, 2, 2, 1]),
  },
  {
    name: 'MaxPoolGrad 2x2 s2 on [16,32,32,64]',
    outSize: 16 * 32 * 32 * 64,
    make: () => {
      const x = tf.randomNormal([16, 32, 32, 64]);
      return [x, tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), tf.randomNormal([16, 16, 16, 64])];
    },
    run: ([x, y, dy]) =>
      tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' } as never) as tf.Tensor,
  },
  {
    name: 'ResizeNearestNeighborGrad x2 to [16,16,16,64]',
    outSize: 16 * 16 * 16 * 64,
    make: () => [tf.randomNormal([16, 16, 16, 64]), tf.randomNormal([16, 32, 32, 64])],
    run: ([images, dy]) =>
      tf.engine().runKernel('ResizeNearestNeighborGrad', { images, dy }, { alignCorners: false, halfPixelCenters: false } as never) as tf.Tensor,
  },
  {
    name: 'Sum over the middle axis of [16, 1024, 64] (GroupNorm statistics)',
    outSize: 16 * 64,
    make: () => [tf.randomNormal([16, 1024, 64])],
    run: ([x]) => tf.sum(x, 1),
  },
  {
    name: 'Sum over [0, 1, 2] of [16, 32, 32, 64] (a conv bias gradient)',
    outSize: 64,
    make: () => [tf.randomNormal([16, 32, 32, 64])],
    run: ([x]) => tf.sum(x, [0, 1, 2]),
  },
  {
    name: 'Reverse [3, 3, 64, 64] on [0, 1] (a conv filter flip)',
    outSize: 3 * 3 * 64 * 64,
    make: () => [tf.randomNormal([3, 3, 64, 64])],
    run: ([f]) => tf.reverse(f, [0, 1]),
  },
  {
    name: 'Tile [16, 1, 1, 64] x [1, 32, 32, 1]',
    outSize: 16 * 32 * 32 * 64,
    make: () => [tf.randomNormal([16, 1, 1, 64])],
    run: ([x]) => tf.tile(x, [1, 32, 32, 1]),
  },
  {
    name: 'GatherV2 of 128 rows of [60000, 784] (a training batch of MNIST)',
    outSize: 128 * 784,
    make: () => [tf.randomNormal([60000, 784]), tf.tensor1d(Array.from({ length: 128 }, (_, i) => (i * 7919) % 60000), 'int32')],
    run: ([x, idx]) => tf.gather(x, idx as tf.Tensor1D),
  },
  {
    name: 'Transpose [16, 256, 256] by [0, 2, 1] (a transposeA product in attention)',
    outSize: 16 * 256 * 256,
    make: () => [tf.randomNormal([16, 256, 256])],
    run: ([x]) => tf.transpose(x, [0, 2, 1]),
  },
  groupNormRow(false),
  groupNormRow(true),
  {
    name: 'UnsortedSegmentSum 1024x64 -> 512 rows',
    outSize: 512 * 64,
    make: () => [tf.randomNormal([1024, 64]), tf.randomUniformInt([1024], 0, 512)],
    run: ([x, ids]) => tf.unsortedSegmentSum(x, ids as tf.Tensor1D, 512),
  },
];

/**
 * nn's GroupNorm + SiLU (64 channels, 32 groups) on [16, 32, 32, 64]: forward, or forward and
 * gradient (x, weight, bias). The wasm + ours setup runs the fused SIMD kernels, the others the
 * composite of stock ops (as nn does on any backend without the fused kernel).
 */
function groupNormRow(withGradient: boolean): MemCase {
  const shape = [16, 32, 32, 64];
  let gn: GroupNorm | undefined;
  return {
    name: `GroupNorm + SiLU of [16, 32, 32, 64], 32 groups: ${withGradient ? 'forward + gradient' : 'forward'}`,
    outSize: 16 * 32 * 32 * 64,
    make: () => {
      gn?.dispose();
      gn = new GroupNorm(64);
      return [tf.randomNormal(shape), tf.randomNormal(shape)];
    },
    run: ([x, dy]) => {
      const f = (xi: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(gn!.forward(xi, { silu: true }), dy));
      if (!withGradient) return gn!.forward(x, { silu: true });
      const [dx, dw, db] = tf.grads(f)([x, gn!.weight, gn!.bias]);
      tf.dispose([dw, db]);
      return dx;
    },
  };
}

function memMs(c: MemCase): string {
  const inputs = c.make();
  const a = tf.randomNormal([c.outSize]);
  try {
    const ms = timeIt(() => c.run(inputs), QUICK ? 3 : 7) * 1000;
    const addMs = timeIt(() => a.add(a), QUICK ? 3 : 7) * 1000;
    return `${ms.toFixed(2)} ms (${(ms / addMs).toFixed(1)}x Add)`;
  } catch (e) {
    return /not registered/.test(String(e)) ? 'missing' : `error: ${String(e).slice(0, 60)}`;
  } finally {
    tf.dispose([...inputs, a]);
  }
}

/** A small conv net: conv s1/s2, GroupNorm, SiLU, depthwise, nearest up-sampling, dense. */
function makeNet(seed: number) {
  const v = (shape: number[], scale: number) => tf.variable(tf.randomNormal(shape, 0, scale, 'float32', seed++));
  const p = {
    c1: v([3, 3, 3, 32], 0.2),
    c2: v([3, 3, 32, 64], 0.05),
    c3: v([3, 3, 64, 64], 0.04),
    dw: v([3, 3, 64, 1], 0.2),
    c4: v([3, 3, 64, 32], 0.04),
    dense: v([32, 10], 0.2),
  };
  const gn = (x: tf.Tensor4D, groups: number) => {
    const [n, h, w, c] = x.shape;
    const g = x.reshape([n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 2, 4], true);
    return g.sub(mean).div(variance.add(1e-5).sqrt()).reshape([n, h, w, c]) as tf.Tensor4D;
  };
  const silu = (x: tf.Tensor4D) => x.mul(tf.sigmoid(x)) as tf.Tensor4D;
  const forward = (x: tf.Tensor4D) => {
    let h = silu(gn(tf.conv2d(x, p.c1 as tf.Tensor4D, 1, 'same'), 8));
    h = silu(gn(tf.conv2d(h, p.c2 as tf.Tensor4D, 2, 'same'), 8));
    h = silu(gn(tf.conv2d(h, p.c3 as tf.Tensor4D, 1, 'same'), 8));
    h = tf.depthwiseConv2d(h, p.dw as tf.Tensor4D, 1, 'same');
    h = tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2]);
    h = tf.conv2d(h, p.c4 as tf.Tensor4D, 1, 'same');
    return tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, p.dense as tf.Tensor2D);
  };
  return { p, forward };
}

/** Images per second of one SGD training step at `batch`, or why it cannot train. */
function trainImgPerSec(setup: Setup, batch: number): number | string {
  const { p, forward } = makeNet(1);
  const opt = tf.train.sgd(0.01);
  const x = tf.randomNormal([batch, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.randomNormal([batch, 10]);
  const step = () => opt.minimize(() => tf.losses.meanSquaredError(y, forward(x)) as tf.Scalar, true)!;
  try {
    const s = timeIt(step, QUICK ? 2 : 5, 60);
    return batch / s;
  } catch (e) {
    return /not registered/.test(String(e)) ? 'cannot train' : `error: ${String(e).slice(0, 60)}`;
  } finally {
    opt.dispose();
    tf.dispose([x, y, ...Object.values(p)]);
  }
}

const fmt = (v: number | string, digits = 2) => (typeof v === 'number' ? v.toFixed(v < 0.1 ? 4 : digits) : v);
const ratio = (a: number | string, b: number | string) =>
  typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(1)}x` : 'n/a';

async function main(): Promise<void> {
  tf.env().set('IS_TEST', true); // silences the "install tfjs-node" banner
  const { log, lines } = sectionLog();
  log(`Measured ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version.tfjs}, wasm 1 thread (SIMD), load average ${loadavg()[0].toFixed(1)} at start${QUICK ? ', quick run' : ''}.`);
  log('');
  log('### Conv kernels, GFLOP/s (NHWC, "same" padding; cpu rows at batch 4, cpu stock filter grad at batch 1, wasm at batch 16; the three kernels of a setup timed round-robin)');
  log('');
  log(`| conv | kernel | ${SETUPS.join(' | ')} | wasm+ours / cpu stock | wasm+ours / wasm fwd |`);
  log(`| --- | --- | ${SETUPS.map(() => '---').join(' | ')} | --- | --- |`);
  for (const c of CONVS) {
    const bySetup = {} as Record<Setup, Record<Kind, number | string>>;
    for (const setup of SETUPS) {
      await use(setup);
      bySetup[setup] = convGflops(c, setup);
    }
    for (const kind of ['forward', 'filter grad', 'input grad'] as Kind[]) {
      const row = (st: Setup) => bySetup[st][kind];
      const fwd = bySetup['wasm + ours'].forward;
      log(
        `| ${c.name} | ${kind} | ${SETUPS.map((st) => fmt(row(st))).join(' | ')} | ${ratio(row('wasm + ours'), row('cpu stock'))} | ${ratio(row('wasm + ours'), fwd)} |`,
      );
    }
  }
  log('');
  log('### BatchMatMul, GFLOP/s');
  log('');
  log(`| product | ${SETUPS.join(' | ')} | wasm+ours / wasm stock |`);
  log(`| --- | ${SETUPS.map(() => '---').join(' | ')} | --- |`);
  for (const c of MATMULS) {
    const row = {} as Record<Setup, number | string>;
    for (const setup of SETUPS) {
      await use(setup);
      row[setup] = matMulGflops(c);
    }
    log(`| ${c.name} | ${SETUPS.map((st) => fmt(row[st])).join(' | ')} | ${ratio(row['wasm + ours'], row['wasm stock'])} |`);
  }
  log('');
  log('### Memory-bound kernels, ms per call (and over an Add with as many output elements)');
  log('');
  log(`| kernel | ${SETUPS.join(' | ')} |`);
  log(`| --- | ${SETUPS.map(() => '---').join(' | ')} |`);
  for (const c of MEMS) {
    const row: string[] = [];
    for (const setup of SETUPS) {
      await use(setup);
      row.push(memMs(c));
    }
    log(`| ${c.name} | ${row.join(' | ')} |`);
  }
  log('');
  const batch = QUICK ? 4 : 16;
  log(`### Small conv-net training step (32x32x3, 5 convs incl. stride 2, GroupNorm, depthwise, nearest up-sampling, dense; SGD), img/s`);
  log('');
  log('| setup | batch | img/s | vs cpu stock |');
  log('| --- | --- | --- | --- |');
  const train: Partial<Record<Setup, number | string>> = {};
  for (const setup of SETUPS) {
    await use(setup);
    const b = setup === 'cpu stock' ? 2 : setup === 'cpu + ours' ? Math.min(batch, 4) : batch;
    train[setup] = trainImgPerSec(setup, b);
    log(`| ${setup} | ${b} | ${fmt(train[setup]!)} | ${ratio(train[setup]!, train['cpu stock']!)} |`);
  }
  log('');
  log(`Load average ${loadavg()[0].toFixed(1)} at the end (the machine is shared: compare ratios within this run).`);
  unregisterTrainingKernels();
  writeBenchmarkSection('backends', `Backends: cpu vs wasm, stock vs @fewstep/backends (\`npm run bench:backends\`)`, lines.join('\n'));
}

await main();
