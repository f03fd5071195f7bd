/**
 * Issue 3: "The SDK never calls dataSync on webgpu." A small but complete training run through the
 * public API on webgpu in Node (Dawn on SwiftShader), with every synchronous read trapped
 * (Tensor dataSync / arraySync / bufferSync and the backend's readSync throw and are counted):
 * loss + StepGuard + AdamW + clipping + EMA + checkpoint save/load + stateDict + slerp + a sampler
 * + an image grid + the MNIST classifier helpers. Then the same run on cpu through the synchronous
 * APIs gives the same numbers. Skipped, with the reason printed, where Dawn or the driver is missing.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  AdamW,
  ExponentialMovingAverage,
  FewstepError,
  MLP,
  MemoryStore,
  StepGuard,
  assertFiniteLoss,
  classifierAccuracy,
  classifierAccuracyAsync,
  createMnistClassifier,
  ectLoss,
  ectMultistepSampler,
  ectPreconditioning,
  frechetDistance,
  imageGrid,
  imageGridAsync,
  initBackend,
  loadCheckpoint,
  mnistFrechetDistanceAsync,
  precondition,
  registerTrainingKernels,
  registeredKernels,
  sample,
  saveCheckpoint,
  saveClassifierWeightsAsync,
  saveSafetensors,
  seededNoise,
  slerp,
  stateDict,
  stateDictAsync,
  trainMnistClassifierAsync,
  unregisterTrainingKernels,
  withFiniteCheck,
  type HostTensor,
} from 'fewstep';
import { setUpDawnWebGpu, trapSyncReads, type SyncReadTrap } from '@fewstep/testing';

const skipReason = await setUpDawnWebGpu();
if (skipReason !== null) console.info(`[fewstep] webgpu async-read tests skipped: ${skipReason}`);

interface RunResult {
  losses: number[];
  skipped: boolean[];
  weights: Record<string, HostTensor>;
  restored: Record<string, HostTensor>;
  ema: number[][];
  sample: number[];
  grid: number[];
}

/**
 * Four guarded steps (one of them poisoned with NaN and skipped), a checkpoint round trip into a
 * fresh network, then slerp -> sampler -> image grid. `sync` uses the synchronous twins (cpu only).
 */
async function trainingRun(sync: boolean): Promise<RunResult> {
  const net = new MLP({ dim: 2, hiddenChannels: 16, numLayers: 2, embeddingChannels: 8, seed: 3 });
  const ema = new ExponentialMovingAverage(net.parameters(), 0.9);
  const opt = new AdamW({ learningRate: 1e-2 });
  const loss = ectLoss({ c: 0.01 });
  const f = precondition(net.forward, ectPreconditioning({ mode: 'train' }));
  const guard = new StepGuard({ maxConsecutive: 2 });
  const noise = seededNoise(1);
  const data = seededNoise(2);
  const out: RunResult = { losses: [], skipped: [], weights: {}, restored: {}, ema: [], sample: [], grid: [] };
  for (let step = 0; step < 4; step++) {
    const x = tf.tidy(() => data.normal([8, 2]).mul(0.5).add(1));
    const poison = step === 2 ? NaN : 1;
    const args = {
      step,
      optimizer: opt,
      params: net,
      loss: () => tf.mul(loss.compute({ network: f, x, step, noise }).loss, poison) as tf.Scalar,
      clipNorm: 1,
    };
    const r = sync ? guard.step(args) : await guard.stepAsync(args);
    x.dispose();
    if (!r.skipped) ema.update();
    out.losses.push(r.loss);
    out.skipped.push(r.skipped);
  }
  const store = new MemoryStore();
  await saveCheckpoint(store, { step: 4, modules: { online: net }, optimizer: opt, emas: { ema }, noise: { loss: noise, data } });
  const net2 = new MLP({ dim: 2, hiddenChannels: 16, numLayers: 2, embeddingChannels: 8, seed: 11 });
  const ema2 = new ExponentialMovingAverage(net2.parameters(), 0.9);
  const opt2 = new AdamW({ learningRate: 1e-2 });
  const loaded = await loadCheckpoint(store, { modules: { online: net2 }, optimizer: opt2, emas: { ema: ema2 } });
  expect(loaded.step).toBe(4);
  out.weights = sync ? stateDict(net) : await stateDictAsync(net);
  out.restored = sync ? stateDict(net2) : await stateDictAsync(net2);
  for (const v of ema2.shadow) out.ema.push(Array.from(await v.data()));

  const latents = tf.tidy(() => {
    const z = seededNoise(5).normal([2, 4, 2]);
    const [z1, z2] = tf.unstack(z);
    return tf.reshape(slerp(z1, z2, [0, 0.25, 0.5, 1]), [16, 2]);
  });
  const g = precondition(net2.forward, ectPreconditioning({ mode: 'train' }));
  const x = sample(ectMultistepSampler({ tMax: 80, midT: [0.821] }), { network: g, latents, noise: seededNoise(6) });
  const images = tf.tidy(() => tf.reshape(tf.clipByValue(tf.div(x, 3), -1, 1), [8, 2, 2, 1]) as tf.Tensor4D);
  const grid = sync ? imageGrid(images, { cols: 4 }) : await imageGridAsync(images, { cols: 4 });
  out.sample = Array.from(await x.data());
  out.grid = Array.from(grid.data);
  tf.dispose([latents, x, images]);
  for (const d of [net, net2, ema, ema2, opt, opt2]) d.dispose();
  return out;
}

function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return a.length === b.length ? num / Math.max(den, 1e-12) : Infinity;
}

describe.skipIf(skipReason !== null)('the SDK on webgpu reads only with await data() (Dawn, SwiftShader)', () => {
  let trap: SyncReadTrap;
  let gpu: RunResult;

  beforeAll(async () => {
    const r = await initBackend('webgpu');
    expect(r.backend).toBe('webgpu');
    trap = trapSyncReads();
  });

  beforeEach(() => {
    trap.attempts.length = 0; // each test accounts for its own reads
  });

  afterAll(() => {
    trap?.restore();
    unregisterTrainingKernels();
  });

  test('the trap works: a plain dataSync or readSync throws and is counted', () => {
    const t = tf.tensor([1, 2]);
    expect(() => t.dataSync()).toThrow(/synchronous read \(Tensor.dataSync\) on webgpu/);
    expect(() => t.arraySync()).toThrow(/synchronous read/);
    expect(() => tf.backend().readSync(t.dataId)).toThrow(/backend.readSync/);
    expect(trap.attempts).toHaveLength(3);
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false); // small ops never detour through readSync
    t.dispose();
  });

  test('a training run through the public API makes no synchronous read and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    gpu = await trainingRun(false);
    expect(trap.attempts).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    expect(gpu.skipped).toEqual([false, false, true, false]);
    expect(Number.isNaN(gpu.losses[2])).toBe(true);
    for (const l of [0, 1, 3]) expect(Number.isFinite(gpu.losses[l])).toBe(true);
    expect(gpu.restored).toEqual(gpu.weights); // the checkpoint round trip is bit-exact
    expect(gpu.sample.every(Number.isFinite)).toBe(true);
    expect(new Set(gpu.grid).size).toBeGreaterThan(2); // not a blank (all-zero) read
  });

  test('the classifier helpers have async twins that work on webgpu', async () => {
    const model = createMnistClassifier({ inputSize: 8, hidden: 8, featureDim: 4, seed: 1 });
    const images = tf.tidy(() => tf.tanh(seededNoise(7).normal([6, 8, 8, 1])) as tf.Tensor4D);
    const labels = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
    const losses = await trainMnistClassifierAsync(model, images, labels, { batchSize: 3, epochs: 2 });
    expect(losses).toHaveLength(4);
    expect(losses.every(Number.isFinite)).toBe(true);
    const acc = await classifierAccuracyAsync(model, images, labels);
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    expect(Number.isFinite(await mnistFrechetDistanceAsync(model, images, images))).toBe(true);
    expect((await saveClassifierWeightsAsync(model)).byteLength).toBeGreaterThan(100);
    expect(() => classifierAccuracy(model, images, labels)).toThrow(/classifierAccuracyAsync/);
    expect(trap.attempts).toEqual([]);
    tf.dispose([images, labels]);
    model.dispose();
  });

  test('the synchronous APIs throw a FewstepError naming their async twin (nothing read)', () => {
    const net = new MLP({ dim: 2, hiddenChannels: 4, numLayers: 1, embeddingChannels: 4 });
    const opt = new AdamW();
    const t = tf.ones([1, 2, 2, 1]);
    const perSample = tf.tensor1d([1, 2]);
    const noise = seededNoise(0);
    const guardArgs = { step: 0, optimizer: opt, params: net, loss: () => tf.sum(net.forward(tf.ones([1, 2]), tf.ones([1]))) as tf.Scalar };
    const cases: [() => unknown, RegExp][] = [
      [() => new StepGuard().step(guardArgs), /StepGuard.step: .*got webgpu.*use await guard.stepAsync\(args\)/],
      [() => stateDict(net), /stateDict: .*use await stateDictAsync\(module\)/],
      [() => saveSafetensors(net), /saveSafetensorsAsync/],
      [() => imageGrid(t as tf.Tensor4D), /imageGrid: .*imageGridAsync/],
      [() => assertFiniteLoss('l', perSample), /assertFiniteLossAsync/],
      [() => withFiniteCheck(ectLoss()).compute({ network: net.forward, x: tf.ones([2, 2]), noise }), /StepGuard.stepAsync/],
      [() => frechetDistance(perSample, perSample), /await readFeatures\(a\)/],
      [() => sample(ectMultistepSampler(), { network: net.forward, shape: [1, 2], checkFinite: true }), /checkFinite: false/],
      [() => registerTrainingKernels('webgpu', { only: ['UnsortedSegmentSum'], force: true }), /a JS loop over readSync/],
    ];
    for (const [fn, message] of cases) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toBeInstanceOf(FewstepError);
      expect((err as Error).message).toMatch(message);
    }
    expect(trap.attempts).toEqual([]);
    tf.dispose([t, perSample]);
    net.dispose();
    opt.dispose();
  });

  test('slerp stays on the device: a zero latent gets the limit weights (1 - a, a) instead of a read', async () => {
    const z2 = tf.tensor1d([1, -2, 3]);
    const out = slerp(tf.zeros([3]), z2, [0, 0.25, 1]);
    expect(Array.from(await out.data())).toEqual([0, 0, 0, 0.25, -0.5, 0.75, 1, -2, 3]);
    const orth = slerp(tf.tensor1d([1, 0]), tf.tensor1d([0, 1]), [0.5]);
    Array.from(await orth.data()).forEach((v) => expect(v).toBeCloseTo(Math.SQRT1_2, 4)); // GPU trig: ~2e-5 on SwiftShader
    expect(trap.attempts).toEqual([]);
    tf.dispose([z2, out, orth]);
  });

  test('forcing every training kernel onto webgpu skips those that read synchronously', () => {
    const names = registerTrainingKernels('webgpu', { force: true });
    for (const k of ['UnsortedSegmentSum', 'MaxPoolGrad', 'ResizeNearestNeighborGrad']) expect(names).not.toContain(k);
    expect(names).toContain('Conv2DBackpropFilter');
    unregisterTrainingKernels('webgpu');
    expect(registerTrainingKernels('webgpu')).toEqual(['AddN', 'PadV2']);
    expect(registeredKernels('webgpu')).toEqual(['AddN', 'PadV2']);
  });

  test('the same run on cpu through the synchronous APIs gives the same numbers', async () => {
    expect(gpu).toBeDefined();
    trap.restore();
    await tf.setBackend('cpu');
    const cpu = await trainingRun(true);
    await tf.setBackend('webgpu');
    trap = trapSyncReads();
    expect(cpu.skipped).toEqual(gpu.skipped);
    for (const l of [0, 1, 3]) expect(Math.abs(gpu.losses[l] - cpu.losses[l]) / Math.abs(cpu.losses[l])).toBeLessThan(1e-4);
    for (const name of Object.keys(cpu.weights)) expect(maxRelError(gpu.weights[name].data, cpu.weights[name].data), name).toBeLessThan(1e-4);
    cpu.ema.forEach((v, i) => expect(maxRelError(gpu.ema[i], v)).toBeLessThan(1e-4));
    expect(maxRelError(gpu.sample, cpu.sample)).toBeLessThan(1e-3);
    expect(maxRelError(gpu.grid, cpu.grid)).toBeLessThanOrEqual(2 / 255);
  });
});
