/**
 * wasm threads in Node: per-op times with the thread pool on and off (one process, one module,
 * so load changes hit both alike), where conv/matmul start to gain, and an ECT training step of
 * unet-s32 at 1 thread (the non-threaded SIMD build), 2 threads with the gate (the default), 2
 * threads for every op (stock tfjs threading) and 2 threads' build with the pool off. Writes its
 * section of docs/benchmarks.md. Run: `npm run bench:threads` (FEWSTEP_BENCH_QUICK=1: fewer reps).
 */
import { sectionLog, writeBenchmarkSection } from './doc-section';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { GATED_KERNELS, initBackend, wasmThreadGate, type GateBucket, type GateMode } from '@fewstep/backends';
import { ectPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { ectLoss } from '@fewstep/losses';
import { ddpmpp } from '@fewstep/nn';

const QUICK = process.env.FEWSTEP_BENCH_QUICK === '1';
const ROUNDS = QUICK ? 1 : 4;
const STEP_BATCH = QUICK ? 2 : 8;
const TIMED_STEPS = QUICK ? 1 : 2;
/** Untimed steps before the gate's timed ones (other modes: 1). */
const GATE_WARMUP = QUICK ? 1 : 8;
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const f3 = (v: number) => v.toFixed(3);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Median ms of `fn` (result read back and disposed) over `reps` calls after 3 warm-ups. */
function msPerCall(fn: () => tf.Tensor, reps: number): number {
  const run = () => {
    const r = fn();
    r.dataSync();
    r.dispose();
  };
  for (let i = 0; i < 3; i++) run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    t.push(performance.now() - t0);
  }
  return median(t);
}

interface OpCase {
  name: string;
  kernel: string;
  /** Inputs made once; `fn` runs the op on them. */
  make: () => { fn: () => tf.Tensor; inputs: tf.Tensor[]; flops?: number };
  reps: number;
}

const rand = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

function elementwise(): OpCase[] {
  const out: OpCase[] = [];
  for (const n of [1e3, 1e4, 1e5, 1e6]) {
    const reps = n >= 1e6 ? 20 : 200;
    out.push({ name: `Add [${n}]+[${n}]`, kernel: 'Add', reps, make: () => binary(n, tf.add) });
    out.push({ name: `Mul [${n}]*[${n}]`, kernel: 'Multiply', reps, make: () => binary(n, tf.mul) });
    out.push({ name: `Sigmoid [${n}]`, kernel: 'Sigmoid', reps, make: () => unary(n, tf.sigmoid) });
  }
  out.push({ name: 'Sum [16,32,32,64] axes 1,2', kernel: 'Sum', reps: 50, make: () => unary(16 * 32 * 32 * 64, (x) => x.reshape([16, 32, 32, 64]).sum([1, 2])) });
  out.push({ name: 'Transpose [8,1024,24,4] -> 0,2,1,3', kernel: 'Transpose', reps: 30, make: () => unary(8 * 1024 * 96, (x) => x.reshape([8, 1024, 24, 4]).transpose([0, 2, 1, 3])) });
  return out;
}

function binary(n: number, op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) {
  const a = rand([n], 1);
  const b = rand([n], 2);
  return { fn: () => op(a, b), inputs: [a, b] };
}

function unary(n: number, op: (a: tf.Tensor) => tf.Tensor) {
  const a = rand([n], 3);
  return { fn: () => tf.tidy(() => op(a)), inputs: [a] };
}

/** 3x3 same convs [b, r, r, c] -> c and matmuls across sizes: where threads start to pay. */
function computeBound(): OpCase[] {
  const convs: [number, number, number][] = [[1, 16, 32], [4, 16, 32], [8, 16, 64], [4, 32, 64], [16, 28, 32], [8, 32, 64], [16, 32, 64]];
  const out: OpCase[] = convs.map(([b, r, c]) => ({
    name: `Conv2D [${b},${r},${r},${c}] 3x3 -> ${c}`,
    kernel: 'Conv2D',
    reps: 20,
    make: () => {
      const x = rand([b, r, r, c], 4) as tf.Tensor4D;
      const w = rand([3, 3, c, c], 5) as tf.Tensor4D;
      return { fn: () => tf.conv2d(x, w, 1, 'same'), inputs: [x, w], flops: 2 * b * r * r * 9 * c * c };
    },
  }));
  for (const [bt, m, k, n] of [[1, 128, 128, 128], [1, 256, 256, 256], [1, 512, 512, 512], [8, 256, 256, 64]]) {
    out.push({
      name: `BatchMatMul [${bt},${m},${k}] x [${bt},${k},${n}]`,
      kernel: 'BatchMatMul',
      reps: 20,
      make: () => {
        const a = rand([bt, m, k], 6);
        const b = rand([bt, k, n], 7);
        return { fn: () => tf.matMul(a, b), inputs: [a, b], flops: 2 * bt * m * k * n };
      },
    });
  }
  return out;
}

/** Each case with the pool on for every op ('all') and off ('none'), alternating 3 times. */
function perOp(cases: OpCase[], gateMinFlops: number): string[] {
  const gate = wasmThreadGate()!;
  const rows = ['| op | MFLOP | 1 thread ms | 2 threads ms | 2 threads / 1 thread | the gate runs it on |', '| --- | --- | --- | --- | --- | --- |'];
  for (const c of cases) {
    const { fn, inputs, flops } = c.make();
    const t: Record<'all' | 'none', number[]> = { all: [], none: [] };
    for (let k = 0; k < 3; k++) {
      for (const mode of ['none', 'all'] as const) {
        gate.setMode(mode);
        t[mode].push(msPerCall(fn, QUICK ? Math.ceil(c.reps / 4) : c.reps));
      }
    }
    gate.setMode('gate');
    tf.dispose(inputs);
    const one = median(t.none);
    const two = median(t.all);
    const gated = c.kernel in GATED_KERNELS && flops !== undefined && flops >= gateMinFlops;
    const policy = gated ? 'the faster, timed' : '1 thread';
    rows.push(`| ${c.name} | ${flops === undefined ? '' : f1(flops / 1e6)} | ${f3(one)} | ${f3(two)} | ${two < one ? '**' : ''}${f2(two / one)}x${two < one ? '**' : ''} | ${policy} |`);
    console.log(rows[rows.length - 1]);
  }
  return rows;
}

/** unet-s32 (bench:train-step's network): one ECT step (ectLoss + Adam) at `STEP_BATCH`. */
function stepTimer() {
  const net = ddpmpp({
    imgResolution: 32, inChannels: 3, outChannels: 3, modelChannels: 32, channelMult: [1, 2, 2],
    channelMultEmb: 4, numBlocks: 2, attnResolutions: [16], dropout: 0, seed: 1,
  });
  const network = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const loss = ectLoss({ stage: 2 });
  const noise = seededNoise(7);
  const opt = tf.train.adam(1e-4);
  const vars = net.trainableParameters();
  const x = tf.randomUniform([STEP_BATCH, 32, 32, 3], -1, 1, 'float32', 3);
  let k = 0;
  const step = () => {
    const t0 = performance.now();
    opt.minimize(() => loss.compute({ network, x, noise, step: k++ }).loss, true, vars)!.dispose();
    return performance.now() - t0;
  };
  step(); // builds Adam's moments
  const dispose = () => {
    opt.dispose();
    x.dispose();
    net.dispose();
  };
  return { step, dispose };
}

let lastBuckets: GateBucket[] = [];
let lastThreadsPay = false;

type StepMode = '1 thread (SIMD build)' | `2 threads, ${GateMode}`;

/** Step times per mode: rounds of a 1-thread block and a 2-thread block (gate, all, none), in
 * alternating order (ABBA) so that a load trend hits both alike; wasm is re-initialised per block. */
async function steps(): Promise<Map<StepMode, number[]>> {
  const times = new Map<StepMode, number[]>();
  const add = (m: StepMode, ms: number) => times.set(m, [...(times.get(m) ?? []), ms]);
  const oneThread = async () => {
    await initBackend('wasm', { threads: 1 });
    const s = stepTimer();
    s.step();
    for (let i = 0; i < TIMED_STEPS; i++) add('1 thread (SIMD build)', s.step());
    s.dispose();
  };
  const twoThreads = async () => {
    await initBackend('wasm', { threads: 2 });
    const gate = wasmThreadGate()!;
    const s = stepTimer();
    for (const mode of ['gate', 'all', 'none'] as const) {
      gate.setMode(mode);
      // The gate times each call signature 7 times before it decides (a signature runs 1-8
      // times per step): its warm-up is the steps it takes to learn, as in a training run.
      for (let i = 0; i < (mode === 'gate' ? GATE_WARMUP : 1); i++) s.step();
      for (let i = 0; i < TIMED_STEPS; i++) add(`2 threads, ${mode}`, s.step());
    }
    gate.setMode('gate');
    s.dispose();
    lastBuckets = gate.buckets();
    lastThreadsPay = gate.threadsPay();
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const block of r % 2 === 0 ? [oneThread, twoThreads] : [twoThreads, oneThread]) await block();
    console.log(`round ${r + 1}:`, [...times].map(([m, v]) => `${m} ${f1(median(v))} ms`).join('; '));
  }
  return times;
}

async function main() {
  const load0 = loadavg();
  const report = await initBackend('wasm', { threads: 2 });
  if (report.threads !== 2) throw new Error(`wasm did not start 2 threads: ${report.reason}; ${report.threadPolicy}`);
  const gate = wasmThreadGate();
  if (gate === null) throw new Error(`no thread gate: ${report.threadPolicy}`);
  const { log, lines } = sectionLog();
  log(`Measured ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version.tfjs}; threaded SIMD build through @fewstep/backends' worker_threads shim (\`initBackend('wasm', { threads: 2 })\`: ${report.threadPolicy}); load average ${load0.map(f1).join(' / ')} at start${QUICK ? '; QUICK run' : ''}.`);
  log();
  log('### Per op: the thread pool on (2 threads) and off (1 thread) in the same module, alternating; median ms');
  log();
  const opRows = perOp([...elementwise(), ...computeBound()], gate.minFlops);
  for (const r of opRows) lines.push(r);
  log();
  log(`### ECT training step of unet-s32 (ectLoss + Adam), batch ${STEP_BATCH}: median ms over ${ROUNDS} round(s) of ${TIMED_STEPS} timed step(s) per mode`);
  log();
  log(`Each round: the 1-thread SIMD build and the threaded build (re-initialised), in alternating order; after 1 untimed step per mode, ${GATE_WARMUP} for the gate (it learns per call signature).`);
  log();
  const times = await steps();
  const base = median(times.get('1 thread (SIMD build)')!);
  log('| mode | ms/step | img/s | vs 1 thread |');
  log('| --- | --- | --- | --- |');
  for (const [mode, v] of times) {
    const ms = median(v);
    log(`| ${mode === '2 threads, gate' ? '**2 threads, gate (default)**' : mode === '2 threads, all' ? '2 threads for every op (stock tfjs)' : mode === '2 threads, none' ? '2 threads\' build, pool off' : mode} | ${f1(ms)} | ${f2((STEP_BATCH * 1000) / ms)} | ${f2(base / ms)}x |`);
  }
  log();
  log(`What the gate measured in the last 2-thread block's steps: the 25 timed call signatures with the most time, each with its own verdict (calls under ${gate.minFlops / 1e6} MFLOP are not timed). Overall verdict at the end (\`threadsPay()\`): ${lastThreadsPay ? 'threads pay, so every op ran threaded' : 'threads do not pay, so each signature ran as its own verdict says and every other op on 1 thread'}.`);
  log();
  const chosen = lastBuckets.filter((b) => b.threaded).length;
  log('| kernel | inputs, attributes | MFLOP | calls | ms threaded | ms 1 thread | own verdict |');
  log('| --- | --- | --- | --- | --- | --- | --- |');
  const cost = (b: GateBucket) => b.calls * Math.min(b.threadedMs, b.singleMs);
  for (const b of [...lastBuckets].sort((x, y) => cost(y) - cost(x)).slice(0, 25)) {
    log(`| ${b.kernel} | \`${b.signature.replace(/"/g, '')}\` | ${f1(b.flops / 1e6)} | ${b.calls} | ${f3(b.threadedMs)} | ${f3(b.singleMs)} | ${b.threaded ? '2 threads' : '1 thread'} |`);
  }
  log();
  log(`${lastBuckets.length} timed call signatures in all; ${chosen} found 2 threads faster on their own.`);
  log();
  log(`Load average ${loadavg().map(f1).join(' / ')} at the end. The machine is shared: compare ratios within this run, not absolute figures across runs.`);
  writeBenchmarkSection('threads', 'wasm threads in Node: per-op times and a training step (`npm run bench:threads`)', lines.join('\n'));
}

await main();
