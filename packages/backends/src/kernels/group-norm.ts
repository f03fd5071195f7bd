import * as tf from '@tensorflow/tfjs';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL, type GroupNormAttrs } from '@fewstep/core';
import { GROUP_NORM_PASSES } from '../simd/group-norm-wat';
import { heapAddress, simdKernels, simdSupported } from '../simd/instance';
import { runSplit } from '../simd/pool';
import type { WasmHeap } from './over-stock';

type TensorInfo = tf.TensorInfo;

/** x [B, ..., C] as B samples of P positions x C channels in G groups of n = P C / G elements. */
interface Layout {
  B: number;
  P: number;
  C: number;
  G: number;
  n: number;
}

function layout(x: TensorInfo, attrs: GroupNormAttrs, kernel: string): Layout {
  const shape = x.shape;
  const C = shape[shape.length - 1];
  const B = shape[0];
  const G = attrs.groups;
  if (x.dtype !== 'float32' || shape.length < 2 || !Number.isInteger(G) || G < 1 || C % G !== 0) {
    throw new Error(`@fewstep/backends: ${kernel} takes float32 x [B, ..., C] with C divisible by groups, got ${x.dtype} [${shape}] and ${G} groups`);
  }
  const P = shape.slice(1, -1).reduce((a, b) => a * b, 1);
  return { B, P, C, G, n: (P * C) / G };
}

type Backend = WasmHeap & { disposeData(dataId: object): void };

/**
 * Scratch on the heap: six C-long float slots per sample (sums, per-channel mean, scale and the
 * gradient's coefficients), addressed by byte and read or written through a fresh view.
 */
class Scratch {
  readonly info: TensorInfo;
  private readonly base: number;

  constructor(
    private readonly heap: Backend,
    private readonly B: number,
    private readonly C: number,
  ) {
    this.info = heap.makeOutput([6 * B * C], 'float32');
    this.base = heapAddress(heap, this.info);
  }

  address(slot: number, b: number): number {
    return this.base + (slot * this.B + b) * this.C * 4;
  }

  /** Slot `slot` of sample b as a live Float32Array view (re-taken each call: the heap may have grown). */
  view(slot: number, b: number): Float32Array {
    const at = (slot * this.B + b) * this.C;
    return (this.heap.typedArrayFromHeap(this.info) as Float32Array).subarray(at, at + this.C);
  }

  /** Zeroes slot `slot` of every sample. */
  zero(slot: number): void {
    (this.heap.typedArrayFromHeap(this.info) as Float32Array).fill(0, slot * this.B * this.C, (slot + 1) * this.B * this.C);
  }

  dispose(): void {
    this.heap.disposeData(this.info.dataId);
  }
}

const SUM = 0;
const SUM2 = 1;
const MEAN = 2;
const SCALE = 3;
const K2 = 4;
const K3 = 5;

/**
 * Below this many floats a pass is ~0.1 ms, about what handing half of it to the SIMD pool's
 * worker costs: it stays on this thread.
 */
const POOL_MIN_FLOATS = 1 << 18;

/**
 * Runs pass `fn` once per sample (args(b)): the samples' second half on the SIMD pool's worker
 * where one runs (simd/pool.ts) and the tensor is big enough, all on this thread otherwise.
 * `more`: another pass follows at once.
 */
function perSample(backend: unknown, L: Layout, fn: string, args: (b: number) => number[], more = true): void {
  const split = L.B * L.P * L.C < POOL_MIN_FLOATS ? L.B : Math.ceil(L.B / 2);
  runSplit(backend, GROUP_NORM_PASSES, fn, Array.from({ length: L.B }, (_, b) => args(b)), split, more);
}

/**
 * Statistics of every sample of x (byte address; `bytes` per sample) in two passes (mean, then
 * centred squares: no cancellation), combined per group in float64. Writes MEAN and SCALE
 * (rstd weight) per channel and returns rstd per sample and group.
 */
function statistics(backend: unknown, s: Scratch, L: Layout, x: number, bytes: number, weight: Float32Array, eps: number): Float64Array[] {
  const { B, P, C, G, n } = L;
  const per = C / G;
  s.zero(SUM);
  perSample(backend, L, 'sums', (b) => [x + b * bytes, s.address(SUM, b), P, C]);
  for (let b = 0; b < B; b++) {
    const sums = s.view(SUM, b);
    const mean = s.view(MEAN, b);
    for (let g = 0; g < G; g++) {
      let total = 0;
      for (let c = g * per; c < (g + 1) * per; c++) total += sums[c];
      mean.fill(total / n, g * per, (g + 1) * per);
    }
  }
  s.zero(SUM);
  perSample(backend, L, 'centredSquares', (b) => [x + b * bytes, s.address(MEAN, b), s.address(SUM, b), P, C]);
  return Array.from({ length: B }, (_, b) => {
    const squares = s.view(SUM, b);
    const scale = s.view(SCALE, b);
    const rstd = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      let total = 0;
      for (let c = g * per; c < (g + 1) * per; c++) total += squares[c];
      rstd[g] = 1 / Math.sqrt(total / n + eps);
      for (let c = g * per; c < (g + 1) * per; c++) scale[c] = rstd[g] * weight[c];
    }
    return rstd;
  });
}

function setUp(backend: unknown, kernel: string): Backend {
  if (simdKernels(backend, GROUP_NORM_PASSES) === null) throw new Error(`@fewstep/backends: ${kernel} runs on the wasm backend only`);
  return backend as Backend;
}

/** y = GroupNorm(x) (then SiLU): two statistic passes and one that writes y, each over every sample. */
function groupNormKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): TensorInfo {
  const { x, weight, bias } = inputs as { x: TensorInfo; weight: TensorInfo; bias: TensorInfo };
  const a = attrs as unknown as GroupNormAttrs;
  const L = layout(x, a, GROUP_NORM_KERNEL);
  const heap = setUp(backend, GROUP_NORM_KERNEL);
  const y = heap.makeOutput(x.shape.slice(), 'float32');
  const s = new Scratch(heap, L.B, L.C);
  const w = Float32Array.from(heap.typedArrayFromHeap(weight));
  const bytes = L.P * L.C * 4;
  const [x0, y0, b0] = [x, y, bias].map((t) => heapAddress(backend, t));
  statistics(backend, s, L, x0, bytes, w, a.eps);
  perSample(backend, L, a.silu ? 'affineSilu' : 'affine', (b) => [x0 + b * bytes, y0 + b * bytes, s.address(MEAN, b), s.address(SCALE, b), b0, L.P, L.C], false);
  s.dispose();
  return y;
}

/**
 * GroupNorm's gradient (through SiLU when fused). Over every sample: the statistics again (two
 * passes), one pass for dz (SiLU's gradient, written into dx) and the per-channel sums D = sum dz
 * and S = sum dz (x - mean), and one for dx. With m1 = sum_c w D / n and m2 = rstd sum_c w S / n
 * per group: dx = rstd w dz - rstd^2 m2 (x - mean) - rstd m1, dw = sum_b rstd S, db = sum_b D.
 */
function groupNormGradKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): TensorInfo[] {
  const { dy, x, weight, bias } = inputs as { dy: TensorInfo; x: TensorInfo; weight: TensorInfo; bias: TensorInfo };
  const a = attrs as unknown as GroupNormAttrs;
  const L = layout(x, a, GROUP_NORM_GRAD_KERNEL);
  const heap = setUp(backend, GROUP_NORM_GRAD_KERNEL);
  const { B, P, C, G, n } = L;
  const per = C / G;
  const dx = heap.makeOutput(x.shape.slice(), 'float32');
  const s = new Scratch(heap, B, C);
  const w = Float32Array.from(heap.typedArrayFromHeap(weight));
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  const bytes = P * C * 4;
  const [x0, dy0, dx0, b0] = [x, dy, dx, bias].map((t) => heapAddress(backend, t));
  const rstds = statistics(backend, s, L, x0, bytes, w, a.eps);
  s.zero(SUM);
  s.zero(SUM2);
  perSample(backend, L, a.silu ? 'gradSumsSilu' : 'gradSums', (b) => [
    x0 + b * bytes, dy0 + b * bytes, dx0 + b * bytes, s.address(MEAN, b), s.address(SCALE, b), b0, s.address(SUM, b), s.address(SUM2, b), P, C,
  ]);
  for (let b = 0; b < B; b++) {
    const rstd = rstds[b];
    const D = s.view(SUM, b);
    const S = s.view(SUM2, b);
    const k2 = s.view(K2, b);
    const k3 = s.view(K3, b);
    for (let g = 0; g < G; g++) {
      let wD = 0;
      let wS = 0;
      for (let c = g * per; c < (g + 1) * per; c++) {
        wD += w[c] * D[c];
        wS += w[c] * S[c];
        dw[c] += rstd[g] * S[c];
        db[c] += D[c];
      }
      const m1 = wD / n;
      const m2 = (rstd[g] * wS) / n;
      k2.fill(-rstd[g] * rstd[g] * m2, g * per, (g + 1) * per);
      k3.fill(-rstd[g] * m1, g * per, (g + 1) * per);
    }
  }
  // Without SiLU, dz is dy itself (gradSums wrote nothing).
  const dz0 = a.silu ? dx0 : dy0;
  perSample(backend, L, 'gradApply', (b) => [
    dz0 + b * bytes, x0 + b * bytes, dx0 + b * bytes, s.address(MEAN, b), s.address(SCALE, b), s.address(K2, b), s.address(K3, b), P, C,
  ], false);
  s.dispose();
  const dWeight = heap.makeOutput([C], 'float32');
  const dBias = heap.makeOutput([C], 'float32');
  (heap.typedArrayFromHeap(dWeight) as Float32Array).set(dw);
  (heap.typedArrayFromHeap(dBias) as Float32Array).set(db);
  return [dx, dWeight, dBias];
}

/** True where the platform runs our wasm SIMD passes. */
export function groupNormSupported(): boolean {
  return simdSupported(GROUP_NORM_PASSES);
}

export function groupNormConfig(backendName: string): tf.KernelConfig {
  return { kernelName: GROUP_NORM_KERNEL, backendName, kernelFunc: groupNormKernel as tf.KernelFunc };
}

export function groupNormGradConfig(backendName: string): tf.KernelConfig {
  return { kernelName: GROUP_NORM_GRAD_KERNEL, backendName, kernelFunc: groupNormGradKernel as tf.KernelFunc };
}
