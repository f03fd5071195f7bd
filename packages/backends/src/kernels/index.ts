import * as tf from '@tensorflow/tfjs';
import { KernelRunner } from '../kernel-runner';
import type { TrainingKernel } from '../registry';
import { chunkedAddN } from './add-n';
import { batchMatMulConfig } from './batch-matmul';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv2d-grads';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-grads';
import { castConfig, identityConfig } from './identity';
import { padConfig } from './pad';
import { sliceConfig, splitVConfig, unpackConfig } from './slice';
import { maxPoolGradConfig, resizeNearestGradConfig } from './pool-resize-grads';
import { unsortedSegmentSumConfig } from './segment-sum';
import { tileConfig } from './tile';
import { meanConfig, sumConfig } from './reduce';
import { reverseConfig } from './reverse';
import { gatherConfig } from './gather';
import { stridedSliceConfig } from './strided-slice';
import { overStock } from './over-stock';
import { transposeConfig } from './transpose';
import { concatConfig } from './concat';
import { groupNormConfig, groupNormGradConfig, groupNormSupported } from './group-norm';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL } from '@fewstep/core';

/** Our AddN for a backend: chunks over the stock AddN captured now (before we replace it). */
function addNConfig(backendName: string): tf.KernelConfig {
  return overStock(tf.AddN, backendName, ({ inputs, backend }, stock) =>
    KernelRunner.use(backend as tf.KernelBackend, backendName, (r) =>
      chunkedAddN(r, inputs as unknown as tf.TensorInfo[], stock),
    ),
  );
}

/** Every kernel of ours, with the backends it is registered for by default and why. */
export const TRAINING_KERNELS: readonly TrainingKernel[] = [
  // cpu's own filter gradient runs at ~0.01 GFLOP/s; its forward conv is ~50x faster.
  { kernelName: tf.Conv2DBackpropFilter, backends: ['wasm', 'cpu'], reason: 'missing', config: conv2dBackpropFilterConfig },
  { kernelName: tf.Conv2DBackpropInput, backends: ['wasm'], reason: 'fast', config: conv2dBackpropInputConfig },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backends: ['wasm'],
    reason: 'missing',
    config: depthwiseBackpropInputConfig,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backends: ['wasm'],
    reason: 'missing',
    config: depthwiseBackpropFilterConfig,
  },
  // Missing on wasm; cpu's takes ~55 s for a 4096x64 -> 512 segment sum (ours: ~1 ms).
  { kernelName: tf.UnsortedSegmentSum, backends: ['wasm', 'cpu'], reason: 'missing', config: unsortedSegmentSumConfig, readsHost: true },
  { kernelName: tf.MaxPoolGrad, backends: ['wasm'], reason: 'fix', config: maxPoolGradConfig, readsHost: true },
  // cpu: wrong for batch > 1. wasm: correct but ~100x an Add; this JS loop is ~2x.
  { kernelName: tf.ResizeNearestNeighborGrad, backends: ['cpu', 'wasm'], reason: 'fix', config: resizeNearestGradConfig, readsHost: true },
  // Stock wasm takes a naive loop for transposes and batch > 1 (every dense gradient, attention).
  { kernelName: tf.BatchMatMul, backends: ['wasm'], reason: 'fast', config: batchMatMulConfig },
  { kernelName: tf.Tile, backends: ['wasm'], reason: 'fast', config: tileConfig },
  // Stock wasm transposes the whole input before any reduction that is not over the innermost
  // axes (GroupNorm's statistics, every bias gradient): ~20x slower than a pooling pass.
  { kernelName: tf.Sum, backends: ['wasm'], reason: 'fast', config: sumConfig },
  { kernelName: tf.Mean, backends: ['wasm'], reason: 'fast', config: meanConfig },
  // Stock wasm's Reverse is a per-element loop: 20x a copy for a conv filter's flip.
  { kernelName: tf.Reverse, backends: ['wasm'], reason: 'fast', config: reverseConfig },
  // Stock wasm's GatherV2 is a per-element loop (~30x a copy): a dataset's batches, embeddings.
  { kernelName: tf.GatherV2, backends: ['wasm'], reason: 'fast', config: gatherConfig },
  // Stock wasm's general StridedSlice: a per-element loop, and float32 output for int32 input.
  { kernelName: tf.StridedSlice, backends: ['wasm'], reason: 'fix', config: stridedSliceConfig },
  // Stock wasm's Concat copies run by run in JS (the decoder's skip concats): our SIMD run copy.
  { kernelName: tf.Concat, backends: ['wasm'], reason: 'fast', config: concatConfig },
  // Stock wasm's Transpose is a per-element loop; batched matrix transposes run our SIMD one.
  { kernelName: tf.Transpose, backends: ['wasm'], reason: 'fast', config: transposeConfig },
  // Fused GroupNorm (+ SiLU) in our own wasm SIMD passes: 3 passes over the activation forward
  // and 4 backward, where nn's composite of stock ops takes ~8 and ~17.
  { kernelName: GROUP_NORM_KERNEL, backends: ['wasm'], reason: 'fast', config: groupNormConfig, supported: groupNormSupported },
  { kernelName: GROUP_NORM_GRAD_KERNEL, backends: ['wasm'], reason: 'fast', config: groupNormGradConfig, supported: groupNormSupported },
  { kernelName: tf.AddN, backends: ['webgpu'], reason: 'fix', config: addNConfig },
  // Pad of rank > 4: webgl's packed shader does not compile, webgpu's WGSL is invalid (silent garbage).
  { kernelName: tf.PadV2, backends: ['webgl', 'webgpu'], reason: 'fix', config: padConfig },
  // Rank > 4 takes stock wasm's per-element loop (the gradient of rank-5 pads): ~300x an Add.
  { kernelName: tf.Slice, backends: ['wasm'], reason: 'fast', config: sliceConfig },
  // Stock wasm's Unpack and SplitV copy the whole input once per output (through stock slice).
  { kernelName: tf.Unpack, backends: ['wasm'], reason: 'fast', config: unpackConfig },
  { kernelName: tf.SplitV, backends: ['wasm'], reason: 'fast', config: splitVConfig },
  // Stock wasm copies: every tensor saved for a gradient is cloned (Identity) and the clone's
  // gradient is a same-dtype Cast. Ours share the data by reference, as cpu and webgl do.
  { kernelName: tf.Identity, backends: ['wasm'], reason: 'fast', config: identityConfig },
  { kernelName: tf.Cast, backends: ['wasm'], reason: 'fast', config: castConfig },
];
