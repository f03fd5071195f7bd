import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { edmPreconditioning, FewstepError, precondition, seededNoise } from '@fewstep/core';
import { edmLoss } from '@fewstep/losses';
import { ddpmpp, GroupNorm } from '@fewstep/nn';
import { initBackend, registerTrainingKernels, unregisterTrainingKernels, wasmSimdPool, wasmThreadGate, type GateMode } from '@fewstep/backends';
import { nodeThreadsUnsupported } from '../src/node-wasm-threads';
import { threadpoolAddress, ThreadSwitch } from '../src/wasm-threadpool-address';
import { expectNoBackendLeak, relError, seeded } from './helpers';
import { gradsOn } from './small-net';

// wasm with 2 threads in Node (the threaded SIMD build through our worker_threads shim), checked
// against cpu: every op threaded ('all'), and the default gate.
const unsupported = await nodeThreadsUnsupported();
if (unsupported !== null) console.info(`[backends] threaded wasm unavailable here (${unsupported}): thread tests skipped`);
const it = test.skipIf(unsupported !== null);

const cores = cpus().length;
const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const binary = (name: string) => readFileSync(`${wasmDir}/dist/${name}`);

afterAll(async () => {
  unregisterTrainingKernels();
  // Back to stock threading (the gate's wrappers removed); the workers are unref'd, so the fork can exit.
  wasmThreadGate()?.uninstall();
});

/** Values of `fn` on cpu (with our cpu fixes) and on the current wasm backend under `mode`. */
async function cpuAndWasm(fn: () => tf.Tensor | tf.Tensor[], mode: GateMode): Promise<[Float32Array[], Float32Array[]]> {
  const run = () => {
    const out = tf.tidy(fn);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(list);
    return values;
  };
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  wasmThreadGate()!.setMode(mode);
  try {
    return [cpu, run()];
  } finally {
    wasmThreadGate()!.setMode('gate');
  }
}

const convGrads = (x: number[], w: number[], s: number) => () =>
  tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same').square().sum())([seeded(x, 1), seeded(w, 2)]);

// Big enough for the gate to time threads (>= 2 MFLOP) and for XNNPACK to split the work.
const TABLE: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ['conv2d forward [4,16,16,16] 3x3 -> 32', () => tf.conv2d(seeded([4, 16, 16, 16], 3) as tf.Tensor4D, seeded([3, 3, 16, 32], 4) as tf.Tensor4D, 1, 'same')],
  ['conv2d gradients, stride 1', convGrads([4, 16, 16, 16], [3, 3, 16, 32], 1)],
  ['conv2d gradients, stride 2', convGrads([4, 17, 17, 8], [3, 3, 8, 16], 2)],
  [
    'depthwise gradients',
    () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').square().sum())([seeded([4, 16, 16, 16], 5), seeded([3, 3, 16, 2], 6)]),
  ],
  ['matMul 192x160 @ 160x128', () => tf.matMul(seeded([192, 160], 7), seeded([160, 128], 8))],
  ['batched, transposed matMul gradients', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, true, false).square().sum())([seeded([4, 96, 64], 9), seeded([4, 96, 80], 10)])],
  ['sigmoid * x (SiLU) of 65536', () => seeded([65536], 11).mul(tf.sigmoid(seeded([65536], 11)))],
];

describe('wasm with 2 threads in Node', () => {
  beforeAll(async () => {
    if (unsupported === null) registerTrainingKernels('cpu', { only: ['Conv2DBackpropFilter', 'ResizeNearestNeighborGrad'] });
  });

  it('initBackend("wasm", { threads: 2 }) runs 2 threads and reports the gate', async () => {
    const r = await initBackend('wasm', { threads: 2 });
    expect(r).toMatchObject({ backend: 'wasm', threads: 2, simd: true, reason: 'wasm as asked' });
    expect(r.threadPolicy).toBe(
      '2 threads for conv/matmul (>= 2 MFLOP) where timed faster; every other op threaded while those find threads faster overall, else 1 thread; our SIMD kernels share their work with a worker of their own',
    );
    const gate = wasmThreadGate()!;
    expect(gate).toMatchObject({ threads: 2, minFlops: 2e6, mode: 'gate' });
    // Every init-time patch is undone: no global Worker, the real core count, the flag as tfjs says.
    expect(Object.getOwnPropertyDescriptor(globalThis, 'Worker')).toBeUndefined();
    expect(cpus()).toHaveLength(cores);
    expect(tf.env().get('WASM_HAS_MULTITHREAD_SUPPORT')).toBe(false);
  });

  for (const mode of ['all', 'gate'] as const) {
    for (const [name, fn] of TABLE) {
      it(`${name} (${mode === 'all' ? 'threads for every op' : 'the gate'}) matches cpu`, async () => {
        await initBackend('wasm', { threads: 2 });
        const [cpu, wasm] = await cpuAndWasm(fn, mode);
        wasm.forEach((v, i) => expect(relError(v, cpu[i]), `output ${i}`).toBeLessThan(1e-4));
      });
    }
  }

  it('the gate times both ways, then chooses, for a repeated big conv', async () => {
    await initBackend('wasm', { threads: 2, threadMinFlops: 1e6 });
    const gate = wasmThreadGate()!;
    const x = seeded([4, 16, 16, 16], 3) as tf.Tensor4D;
    const w = seeded([3, 3, 16, 32], 4) as tf.Tensor4D;
    for (let i = 0; i < 8; i++) tf.conv2d(x, w, 1, 'same').dispose();
    tf.dispose([x, w]);
    const b = gate.buckets().find((k) => k.kernel === 'Conv2D')!;
    expect(b.calls).toBe(8);
    expect(b.threadedMs).toBeGreaterThan(0);
    expect(b.singleMs).toBeGreaterThan(0);
    expect(b.threaded).toBe(b.threadedMs < b.singleMs);
    expect(gate.counts.threaded).toBeGreaterThanOrEqual(3);
  });

  it('every other op follows the timed convs\' vote', async () => {
    await initBackend('wasm', { threads: 2, threadMinFlops: 1e6 });
    const gate = wasmThreadGate()!;
    const a = seeded([64, 128], 1);
    const b = seeded([64, 128], 2);
    expect(gate.threadsPay()).toBe(false); // nothing timed yet: one thread
    const x = seeded([4, 16, 16, 16], 3) as tf.Tensor4D;
    const w = seeded([3, 3, 16, 32], 4) as tf.Tensor4D;
    for (let i = 0; i < 8; i++) tf.conv2d(x, w, 1, 'same').dispose();
    const conv = gate.buckets().find((k) => k.kernel === 'Conv2D')!;
    expect(gate.threadsPay()).toBe(conv.singleMs > conv.threadedMs);
    expect(gate.buckets().some((k) => k.kernel === 'Add')).toBe(false); // not timed one by one
    // The pool between gated calls: the module's own get_threads_count reads the pointer (NULL: -1).
    const module = (tf.backend() as unknown as { wasm: { _get_threads_count: () => number } }).wasm;
    expect(module._get_threads_count()).toBe(gate.threadsPay() ? 2 : -1);
    // A conv under the floor is counted, untimed, and runs as every other op.
    const counted = gate.counts.threaded + gate.counts.single;
    const threaded = gate.counts.threaded;
    tf.tidy(() => tf.conv2d(seeded([1, 4, 4, 2], 1) as tf.Tensor4D, seeded([3, 3, 2, 2], 2) as tf.Tensor4D, 1, 'same'));
    expect(gate.counts.threaded + gate.counts.single).toBe(counted + 1);
    expect(gate.counts.threaded - threaded).toBe(gate.threadsPay() ? 1 : 0);
    expect(gate.buckets().filter((k) => k.kernel === 'Conv2D')).toHaveLength(1);
    tf.dispose([a, b, x, w]);
  });

  it('fused ops with absent optional inputs (no bias, no prelu weights) pass through the gate', async () => {
    // Found by the MNIST example: the gate's call signature read `.shape` of a null bias.
    await initBackend('wasm', { threads: 2, threadMinFlops: 0 });
    const [cpu, wasm] = await cpuAndWasm(() => {
      const a = seeded([16, 32], 1) as tf.Tensor2D;
      const b = seeded([32, 24], 2) as tf.Tensor2D;
      const x = seeded([2, 8, 8, 4], 3) as tf.Tensor4D;
      const w = seeded([3, 3, 4, 6], 4) as tf.Tensor4D;
      return [tf.fused.matMul({ a, b, activation: 'relu' }), tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation: 'relu' })];
    }, 'gate');
    wasm.forEach((v, i) => expect(relError(v, cpu[i])).toBeLessThan(1e-4));
    const kernels = wasmThreadGate()!.buckets().map((b) => b.kernel);
    expect(kernels).toEqual(expect.arrayContaining(['_FusedMatMul', 'FusedConv2D']));
  });

  it('our composite Conv2DBackpropInput is left unwrapped: the convs inside it choose', async () => {
    await initBackend('wasm', { threads: 2, threadMinFlops: 0 });
    tf.dispose(convGrads([2, 8, 8, 4], [3, 3, 4, 8], 1)());
    const kernels = wasmThreadGate()!.buckets().map((b) => b.kernel);
    expect(kernels).not.toContain('Conv2DBackpropInput');
    // The forward conv and the input gradient's conv (2 signatures); the filter gradient, gated
    // itself (our GEMM: no products inside).
    expect(kernels.filter((k) => k === 'Conv2D')).toHaveLength(2);
    expect(kernels.filter((k) => k === 'Conv2DBackpropFilter')).toHaveLength(1);
    expect(kernels).not.toContain('BatchMatMul');
  });

  it("the filter gradient's GEMM shares its rows with the SIMD pool's worker and matches cpu", async () => {
    await initBackend('wasm', { threads: 2 });
    const pool = wasmSimdPool()!;
    wasmThreadGate()!.setMode('all'); // the pool runs while the gate has threads on
    expect(pool.active()).toBe(true); // initBackend waited for its worker
    const before = pool.runs.withWorker;
    const [cpu, wasm] = await cpuAndWasm(convGrads([4, 16, 16, 8], [3, 3, 8, 16], 1), 'all');
    wasm.forEach((v, i) => expect(relError(v, cpu[i])).toBeLessThan(1e-4));
    expect(pool.runs.withWorker).toBeGreaterThan(before);
    // One thread for everything: the same answer without the worker.
    const alone = pool.runs.withWorker;
    wasmThreadGate()!.setMode('none');
    expect(pool.active()).toBe(false); // the gate has threads off: so has the pool
    expect(pool.threads).toBe(2);
    const [, single] = await cpuAndWasm(convGrads([4, 16, 16, 8], [3, 3, 8, 16], 1), 'none');
    single.forEach((v, i) => expect(relError(v, cpu[i])).toBeLessThan(1e-4));
    expect(pool.runs.withWorker).toBe(alone);
  });

  it("the fused GroupNorm + SiLU and its gradient split their samples with the SIMD pool's worker and match cpu's composite", async () => {
    await initBackend('wasm', { threads: 2 });
    const pool = wasmSimdPool()!;
    wasmThreadGate()!.setMode('all');
    expect(pool.active()).toBe(true);
    // nn's GroupNorm takes the fused kernel on wasm and its composite on cpu. The output and the
    // gradients of x, weight and bias of a non-linear loss; 5 samples: an odd split.
    const run = () => {
      const norm = new GroupNorm(16, { numGroups: 4 });
      norm.weight.assign(seeded([16], 2).add(1));
      norm.bias.assign(seeded([16], 3));
      const x = seeded([5, 64, 64, 16], 1); // over the size from which the passes use the pool
      const loss = (xx: tf.Tensor) => norm.forward(xx, { silu: true }).sin().sum();
      const { grads } = tf.variableGrads(() => loss(x) as tf.Scalar, [norm.weight, norm.bias]);
      const out = [norm.forward(x, { silu: true }), tf.grad(loss)(x), grads[norm.weight.name], grads[norm.bias.name]];
      norm.dispose();
      return out;
    };
    const before = pool.runs.withWorker;
    const [cpu, wasm] = await cpuAndWasm(run, 'all');
    wasm.forEach((v, i) => expect(relError(v, cpu[i]), `output ${i}`).toBeLessThan(1e-4));
    // Forward 3 passes; the gradient recomputes 2 and runs 2 more.
    expect(pool.runs.withWorker - before).toBeGreaterThanOrEqual(7);
  });

  it('the small conv net: variableGrads on 2-thread wasm match cpu, every op threaded', async () => {
    await initBackend('wasm', { threads: 2 });
    const cpu = await gradsOn('cpu');
    wasmThreadGate()!.setMode('all');
    try {
      const wasm = await gradsOn('wasm');
      expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
      for (const name of Object.keys(cpu.grads)) expect(relError(wasm.grads[name], cpu.grads[name]), name).toBeLessThan(1e-4);
    } finally {
      wasmThreadGate()!.setMode('gate');
    }
  });

  it('a SongUNet (GroupNorm, attention, up/down sampling): EDM-loss gradients on 2-thread wasm match cpu', async () => {
    await initBackend('wasm', { threads: 2 });
    // Same seeds on both backends: same parameters, inputs and noise (tfjs draws them in JS).
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const net = ddpmpp({ imgResolution: 8, inChannels: 2, outChannels: 2, modelChannels: 16, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4], dropout: 0, seed: 3 });
      const D = precondition(net.forward, edmPreconditioning());
      const x = tf.randomNormal([4, 8, 8, 2], 0, 0.5, 'float32', 5);
      const { value, grads: g } = tf.variableGrads(() => edmLoss().compute({ network: D, x, noise: seededNoise(9) }).loss, net.trainableParameters());
      const out = [Float32Array.from(await value.data())];
      for (const [, v] of net.namedParameters()) out.push(Float32Array.from(await g[v.name].data()));
      tf.dispose([value, x, ...Object.values(g)]);
      net.dispose();
      return out;
    };
    const cpu = await grads('cpu');
    for (const mode of ['all', 'gate'] as const) {
      wasmThreadGate()!.setMode(mode);
      const wasm = await grads('wasm');
      wasm.forEach((v, i) => expect(relError(v, cpu[i]), `${mode}: ${i === 0 ? 'loss' : `parameter ${i - 1}`}`).toBeLessThan(1e-4));
    }
    wasmThreadGate()!.setMode('gate');
  });

  it('no tensor or backend data leaks under threads', async () => {
    await initBackend('wasm', { threads: 2 });
    for (const mode of ['all', 'gate'] as const) {
      wasmThreadGate()!.setMode(mode);
      expectNoBackendLeak(() => convGrads([4, 16, 16, 16], [3, 3, 16, 32], 1)());
    }
    wasmThreadGate()!.setMode('gate');
  });

  it('threads: 1 after 2 restarts the module on one thread (stock build), and back', async () => {
    const one = await initBackend('wasm', { threads: 1 });
    expect(one).toMatchObject({ threads: 1, threadPolicy: '1 thread' });
    expect(wasmThreadGate()).toBeNull();
    const two = await initBackend('wasm', { threads: 'auto' });
    expect(two.threads).toBe(2); // min(4, cores): this machine's tests run where cores >= 2
  });

  it("threadPolicy: 'stock' leaves tfjs threading every op", async () => {
    const r = await initBackend('wasm', { threads: 2, threadPolicy: 'stock' });
    expect(r.threadPolicy).toBe('2 threads for every op (stock policy); our SIMD kernels share their work with a worker of their own');
    expect(wasmThreadGate()).toBeNull();
  });

  it('falls back to 1 thread with the reason when the platform lacks SharedArrayBuffer', async () => {
    const sab = globalThis.SharedArrayBuffer;
    (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
    try {
      const r = await initBackend('wasm', { threads: 2 });
      expect(r.threads).toBe(1);
      expect(r.reason).toBe('wasm as asked (1 thread, not 2: no SharedArrayBuffer)');
      expect(r.threadPolicy).toBe('1 thread, not 2: no SharedArrayBuffer');
    } finally {
      globalThis.SharedArrayBuffer = sab;
    }
  });
});

describe('the thread switch', () => {
  test("finds tfjs's threadpool pointer in the threaded binary, nothing in other bytes", () => {
    expect(threadpoolAddress(binary('tfjs-backend-wasm-threaded-simd.wasm'))).toBeGreaterThan(0);
    expect(threadpoolAddress(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBeNull();
    expect(threadpoolAddress(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).toBeNull();
  });

  it('refuses an address that fails its self-check', async () => {
    await initBackend('wasm', { threads: 2 });
    const module = (tf.engine().registry.wasm as unknown as { wasm: never }).wasm;
    expect(ThreadSwitch.create(module, null)).toBe('threadpool pointer not found in the wasm binary');
    expect(ThreadSwitch.create(module, 64)).toMatch(/^(no thread pool|self-check failed) at 64/);
  });
});

describe('initBackend thread options: errors name the argument, the expectation and the value', () => {
  test('threads, threadPolicy, threadMinFlops', async () => {
    await expect(initBackend('wasm', { threads: 1.5 })).rejects.toThrow(/threads must be an integer >= 1, got 1.5/);
    await expect(initBackend('wasm', { threadPolicy: 'fast' as never })).rejects.toThrow(FewstepError);
    await expect(initBackend('wasm', { threadPolicy: 'fast' as never })).rejects.toThrow(/threadPolicy must be one of .*got "fast"/);
    await expect(initBackend('wasm', { threadMinFlops: -1 })).rejects.toThrow(/threadMinFlops must be a number >= 0 \(Infinity: never threaded\), got -1/);
  });
});
