import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from '@fewstep/backends';
import { expectNoBackendLeak, onBackend, relError, seeded } from './helpers';
import { KernelRunner } from '../src/kernel-runner';
import { conv2dBackpropFilter } from '../src/kernels/conv2d-grads';
import { filterGradByRows } from '../src/kernels/filter-grad-rows';
import { filterGradByGemm } from '../src/kernels/filter-grad-gemm';
import { convGeometry } from '../src/kernels/conv-geometry';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
type Case = { x: [number, number, number, number]; w: [number, number, number, number]; s: number | [number, number]; pad: Pad };

// Strides 1, 2, 3 and mixed; odd and even sizes; 1x1 to 5x5 kernels; batch 1 and > 1; every padding mode.
const CASES: Case[] = [
  { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
  { x: [1, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'valid' },
  { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 2, pad: 'same' },
  { x: [2, 8, 8, 3], w: [3, 3, 3, 4], s: 2, pad: 'same' },
  { x: [2, 8, 8, 3], w: [3, 3, 3, 4], s: 2, pad: 'valid' },
  { x: [1, 9, 8, 2], w: [3, 2, 2, 3], s: [2, 3], pad: 'valid' },
  { x: [3, 6, 6, 3], w: [1, 1, 3, 5], s: 2, pad: 'valid' },
  { x: [2, 6, 5, 3], w: [1, 1, 3, 5], s: 1, pad: 'same' },
  { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [2, 9, 7, 3], w: [3, 3, 3, 2], s: 2, pad: [[0, 0], [1, 0], [3, 2], [0, 0]] },
  { x: [3, 10, 9, 4], w: [4, 4, 4, 2], s: 3, pad: 'same' },
  { x: [2, 5, 5, 2], w: [5, 5, 2, 2], s: 1, pad: 'same' },
  { x: [2, 8, 8, 4], w: [2, 2, 4, 4], s: 2, pad: 'valid' },
  { x: [1, 1, 1, 3], w: [1, 1, 3, 2], s: 1, pad: 'valid' },
  { x: [2, 12, 12, 8], w: [3, 3, 8, 16], s: 1, pad: 'same' },
];

const label = (c: Case) => `x=[${c.x}] w=[${c.w}] s=${c.s} pad=${JSON.stringify(c.pad)}`;

/** dL/dx and dL/dw of a non-linear loss (so dy is not constant). */
function convGrads(c: Case): tf.Tensor[] {
  const x = seeded(c.x, 11);
  const w = seeded(c.w, 7);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad).square().sum(),
  );
  return g([x, w]);
}

describe('Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  beforeAll(() => {
    registerTrainingKernels('wasm');
  });
  afterAll(() => {
    unregisterTrainingKernels();
  });

  test.each(CASES.map((c) => [label(c), c] as const))('wasm matches stock cpu: %s', async (_, c) => {
    const [dx, dw] = await onBackend('wasm', () => convGrads(c));
    const [ex, ew] = await onBackend('cpu', () => convGrads(c));
    expect(relError(dx, ex)).toBeLessThan(1e-4);
    expect(relError(dw, ew)).toBeLessThan(1e-4);
  });

  test('cpu with our filter gradient matches stock cpu, NHWC and NCHW', async () => {
    for (const c of CASES.slice(0, 6)) {
      const [, stock] = await onBackend('cpu', () => convGrads(c));
      registerTrainingKernels('cpu');
      const [, ours] = await onBackend('cpu', () => convGrads(c));
      unregisterTrainingKernels('cpu');
      expect(relError(ours, stock), label(c)).toBeLessThan(1e-4);
    }
    const nchw = () => {
      const x = seeded([2, 3, 7, 6], 3);
      const w = seeded([3, 3, 3, 4], 4);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same', 'NCHW').square().sum(),
      )([x, w]);
    };
    const stock = await onBackend('cpu', nchw);
    registerTrainingKernels('cpu');
    const ours = await onBackend('cpu', nchw);
    unregisterTrainingKernels('cpu');
    expect(relError(ours[1], stock[1])).toBeLessThan(1e-4);
  });

  test('stock wasm cannot compute a filter gradient (why this package exists)', async () => {
    unregisterTrainingKernels('wasm');
    await expect(onBackend('wasm', () => convGrads(CASES[0]))).rejects.toThrow(/Conv2DBackpropFilter/);
    registerTrainingKernels('wasm');
  });

  test('no tensor or wasm data leaks', async () => {
    await tf.setBackend('wasm');
    for (const c of [CASES[0], CASES[2], CASES[8]]) expectNoBackendLeak(() => convGrads(c));
  });
});

describe('polyphase strided input gradient', () => {
  test('is taken (not the zero-insertion fallback) for the strided cases, and agrees with cpu', async () => {
    const { KernelRunner } = await import('../src/kernel-runner');
    const { polyphaseInputGrad } = await import('../src/kernels/polyphase');
    const { convGeometry } = await import('../src/kernels/conv-geometry');
    await tf.setBackend('wasm');
    const strided = CASES.filter((c) => c.s !== 1);
    expect(strided.length).toBeGreaterThanOrEqual(7);
    for (const c of strided) {
      const info = convGeometry(c.x, c.w, c.s, c.pad, undefined);
      const ho = info.outHeight;
      const wo = info.outWidth;
      const dy = seeded([c.x[0], ho, wo, c.w[3]], 5);
      const w = seeded(c.w, 7);
      const backend = tf.backend();
      const got = tf.engine().makeTensorFromTensorInfo(
        KernelRunner.use(backend, 'wasm', (r) => {
          const wf = r.transpose(r.run('Reverse', { x: w }, { dims: [0, 1] }), [0, 1, 3, 2]);
          const out = polyphaseInputGrad(r, dy, wf, c.x, [info.strideHeight, info.strideWidth], [info.padInfo.top, info.padInfo.left]);
          if (out === null) throw new Error(`polyphase declined ${label(c)}`);
          return out;
        }),
      );
      const [a] = [Float32Array.from(got.dataSync())];
      const [e] = await onBackend('cpu', () => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, c.x, c.s, c.pad as never));
      await tf.setBackend('wasm');
      expect(relError(a, e), label(c)).toBeLessThan(1e-4);
      tf.dispose([got, dy, w]);
    }
  });
});

describe('the filter gradient as products (filterGradByTaps for 1x1, filterGradByRows otherwise) = the conv form', () => {
  const cases: Case[] = [
    { x: [2, 6, 5, 3], w: [1, 1, 3, 5], s: 1, pad: 'same' },
    { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
    { x: [1, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'valid' },
    { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
    { x: [2, 5, 6, 2], w: [5, 3, 2, 2], s: 1, pad: 'same' },
  ];
  test.each(cases.map((c) => [label(c), c] as const))('wasm and cpu: %s', async (_, c) => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const be = tf.backend();
      const x = seeded(c.x, 3);
      const dy = tf.conv2d(x as tf.Tensor4D, seeded(c.w, 4) as tf.Tensor4D, c.s, c.pad).sin();
      const attrs = { strides: c.s, pad: c.pad, filterShape: c.w };
      const ids = be.numDataIds();
      const values = [true, false].map((byTaps) => {
        const out = KernelRunner.use(be, backend, (r) => conv2dBackpropFilter(r, x, dy, attrs, byTaps));
        expect(out.shape).toEqual(c.w);
        const v = Float32Array.from(be.readSync(out.dataId) as Float32Array);
        be.disposeData(out.dataId);
        return v;
      });
      expect(be.numDataIds()).toBe(ids);
      expect(relError(values[0], values[1]), backend).toBeLessThan(1e-5);
      tf.dispose([x, dy]);
    }
  });
});

/**
 * A stride-1 filter-gradient form on wasm: it is taken (not null), leaves the backend's data count
 * as it was, and matches cpu's autodiff gradient to 1e-5.
 */
async function expectTakenAndExact(form: typeof filterGradByRows, c: Case): Promise<void> {
  const [expected] = await onBackend('cpu', () => tf.grad((w: tf.Tensor) => tf.conv2d(seeded(c.x, 3) as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad).sin().sum())(seeded(c.w, 4)));
  await tf.setBackend('wasm');
  const be = tf.backend();
  const x = seeded(c.x, 3);
  const dy = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, seeded(c.w, 4) as tf.Tensor4D, c.s, c.pad).cos());
  const info = convGeometry(c.x, c.w, c.s, c.pad, undefined);
  const ids = be.numDataIds();
  const out = KernelRunner.use(be, 'wasm', (r) => {
    const g = form(r, x, dy, c.w[0], c.w[1], info.padInfo.top, info.padInfo.left);
    expect(g).not.toBeNull();
    return g as tf.TensorInfo;
  });
  expect(out.shape).toEqual(c.w);
  const v = Float32Array.from(be.readSync(out.dataId) as Float32Array);
  be.disposeData(out.dataId);
  expect(be.numDataIds()).toBe(ids);
  expect(relError(v, expected)).toBeLessThan(1e-5);
  tf.dispose([x, dy]);
}

describe('filterGradByRows (KH products over shifted rows of x, read through heap views)', () => {
  const cases: Case[] = [
    { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
    { x: [1, 9, 6, 5], w: [3, 3, 5, 3], s: 1, pad: 'valid' },
    { x: [3, 5, 8, 2], w: [5, 3, 2, 4], s: 1, pad: 'same' },
    { x: [2, 6, 7, 3], w: [2, 4, 3, 2], s: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
    { x: [4, 16, 16, 8], w: [3, 3, 8, 8], s: 1, pad: 'same' },
    // Pads wider than the filter: dy is then wider than x plus its wider pad.
    { x: [2, 4, 5, 2], w: [2, 2, 2, 3], s: 1, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  ];
  test.each(cases.map((c) => [label(c), c] as const))('is taken on wasm, frees its views, and matches cpu to 1e-5: %s', async (_, c) => {
    await expectTakenAndExact(filterGradByRows, c);
  });

  test('returns null off the wasm heap (cpu takes the conv form)', async () => {
    await tf.setBackend('cpu');
    const x = seeded([1, 4, 4, 2], 1);
    const dy = seeded([1, 4, 4, 2], 2);
    const be = tf.backend();
    const r = new KernelRunner(be, 'cpu');
    expect(filterGradByRows(r, x, dy, 3, 3, 1, 1)).toBeNull();
    r.dispose();
    tf.dispose([x, dy]);
  });
});

describe('filterGradByGemm (our SIMD GEMM over one transposed copy of x, every tap an offset into it)', () => {
  const cases: Case[] = [
    { x: [2, 7, 7, 4], w: [3, 3, 4, 8], s: 1, pad: 'same' },
    { x: [1, 9, 6, 8], w: [3, 3, 8, 16], s: 1, pad: 'valid' },
    { x: [3, 5, 8, 4], w: [5, 3, 4, 8], s: 1, pad: 'same' },
    { x: [2, 6, 7, 4], w: [2, 4, 4, 8], s: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
    { x: [2, 4, 5, 4], w: [2, 2, 4, 8], s: 1, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
    // Odd grid sizes (the contraction's tail) and several blocks of 256 positions.
    { x: [3, 19, 19, 12], w: [3, 3, 12, 24], s: 1, pad: 'same' },
  ];
  test.each(cases.map((c) => [label(c), c] as const))('is taken on wasm, frees its intermediates, and matches cpu to 1e-5: %s', async (_, c) => {
    await expectTakenAndExact(filterGradByGemm, c);
  });

  test('returns null where its tiles do not fit (Ci % 4, Co % 8) and off the wasm heap', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const r = new KernelRunner(tf.backend(), backend);
      for (const [ci, co] of backend === 'wasm' ? [[3, 8], [4, 12]] : [[4, 8]]) {
        const x = seeded([1, 4, 4, ci], 1);
        const dy = seeded([1, 4, 4, co], 2);
        expect(filterGradByGemm(r, x, dy, 3, 3, 1, 1)).toBeNull();
        tf.dispose([x, dy]);
      }
      r.dispose();
    }
  });
});
