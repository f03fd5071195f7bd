import * as tf from '@tensorflow/tfjs';
import { sigmaTransport, validate, type Network, type NoiseSource, type Predictor } from '@fewstep/core';
import { cmIndexGrid, consistencyStep } from './consistency';
import { clipDenoised } from './karras';
import { mapDataEstimate } from './estimator';
import { defineSampler, sample, type SampleOptions } from './sampler';
import type { Modifier } from './types';

/**
 * Zero-shot editing with a consistency model (Song et al. 2023, sec. 5; OpenAI CM
 * iterative_inpainting / _colorization / _superres). Each edit is a projection: `replace(a, b)`
 * keeps the known part of `a` (the reference images) and the unknown part of `b` (the model's
 * estimate). The sampler is CM multistep with x0 <- replace(ref, clamp(f(x, t))).
 */
export interface Replacement {
  readonly name: string;
  /** Known part of a + unknown part of b (both NHWC, same shape). */
  replace(a: tf.Tensor, b: tf.Tensor): tf.Tensor;
  /** The reference the reference code builds: replace(images, fill). */
  reference(images: tf.Tensor): tf.Tensor;
  check(images: tf.Tensor): void;
}

/** Inpainting: mask = 1 marks known pixels; it broadcasts against the images (e.g. [B,H,W,C] or [1,H,W,1]). */
export function inpaintingReplacement(mask: tf.Tensor): Replacement {
  const where = 'inpaintingReplacement';
  validate(where).tensor('mask', mask);
  return {
    name: 'inpainting',
    check(images) {
      const ok = mask.rank === images.rank && mask.shape.every((s, i) => s === images.shape[i] || s === 1);
      if (!ok) validate(where).fail('mask', `a tensor of shape [${images.shape}] (any axis may be 1 to broadcast)`, mask);
    },
    replace: (a, b) => tf.tidy(() => tf.add(tf.mul(a, mask), tf.mul(b, tf.sub(1, mask)))),
    reference: (images) => tf.tidy(() => tf.add(tf.mul(images, mask), tf.mul(tf.sub(1, mask), -1))),
  };
}

/** The reference's luminance weights (0.2989, 0.5870, 0.1140), normalised. */
const LUMA = [0.2989, 0.587, 0.114];

/**
 * Colourisation: keep the luminance component q q^T a of the reference and the chroma (I - q q^T) b of
 * the estimate, per pixel (the projection form of the reference's QR construction). 3 channels.
 */
export function colorizationReplacement(): Replacement {
  const n = Math.hypot(...LUMA);
  const q = LUMA.map((v) => v / n);
  const project = (v: tf.Tensor) => tf.tidy(() => tf.mul(tf.sum(tf.mul(v, q), -1, true), q));
  return {
    name: 'colorization',
    check(images) {
      validate('colorizationReplacement').check(images.rank === 4 && images.shape[3] === 3, 'images', 'an NHWC tensor with 3 channels', images);
    },
    replace: (a, b) => tf.tidy(() => tf.add(project(a), tf.sub(b, project(b)))),
    reference: (images) => project(images),
  };
}

/**
 * Super-resolution: per non-overlapping patch x patch block and channel, keep the block mean of the
 * reference and the zero-mean part of the estimate. Any patch size dividing H and W, any channel count.
 */
export function superResolutionReplacement(patchSize = 8): Replacement {
  const where = 'superResolutionReplacement';
  const p = validate(where).integer('patchSize', patchSize, { min: 1 });
  const blockMean = (v: tf.Tensor) =>
    tf.tidy(() => {
      const [B, H, W, C] = v.shape as [number, number, number, number];
      const blocks = v.reshape([B, H / p, p, W / p, p, C]);
      return tf.broadcastTo(tf.mean(blocks, [2, 4], true), [B, H / p, p, W / p, p, C]).reshape(v.shape);
    });
  return {
    name: `superres(${p})`,
    check(images) {
      const ok = images.rank === 4 && images.shape[1]! % p === 0 && images.shape[2]! % p === 0;
      if (!ok) validate(where).fail('images', `an NHWC tensor whose height and width are multiples of patchSize ${p}`, images);
    },
    replace: (a, b) => tf.tidy(() => tf.add(blockMean(a), tf.sub(b, blockMean(b)))),
    reference: (images) => blockMean(images),
  };
}

/** A modifier that projects every data estimate: xHat <- replace(ref, xHat), zHat recomputed. */
export function replaceEstimate(replacement: Replacement, ref: tf.Tensor): Modifier {
  return mapDataEstimate(`replace(${replacement.name})`, (xHat) => replacement.replace(ref, xHat));
}

export interface EditOptions {
  predictor?: Predictor;
  /** The consistency function f(x, sigma) (parameterisation 'x0'). */
  network?: Network;
  /** The images to edit, NHWC in [-1, 1]. */
  images: tf.Tensor;
  replacement: Replacement;
  /** Start state at sigma(ts[0]); default images_ref + sigmaMax * noise (drawn first). */
  x?: tf.Tensor;
  /** Increasing indices into the `steps`-point CM index grid, e.g. [0, 8, 17] with steps 18. */
  ts: readonly number[];
  steps?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  noise?: NoiseSource;
  signal?: AbortSignal;
}

/**
 * Iterative zero-shot editing (OpenAI CM): for consecutive ts, x0 = replace(ref, clamp(f(x, t)));
 * x = x0 + sqrt(tNext^2 - sigmaMin^2) eps. Returns the edited images and images_ref (both owned by
 * the caller).
 */
export function edit(opts: EditOptions): { x: tf.Tensor; imagesRef: tf.Tensor } {
  const check = validate('edit');
  const images = check.tensor('images', opts?.images, { rank: 4 });
  const rep = opts.replacement;
  if (!rep || typeof rep.replace !== 'function') check.fail('replacement', 'a Replacement', rep);
  rep.check(images);
  if (opts.x !== undefined) check.sameShape('images', images, 'x', check.tensor('x', opts.x));
  const sigmaMin = opts.sigmaMin ?? 0.002;
  const sigmaMax = opts.sigmaMax ?? 80;
  const grid = cmIndexGrid(opts.ts, opts.steps ?? 40, { sigmaMin, sigmaMax, rho: opts.rho });
  const imagesRef = rep.reference(images);
  try {
    const sampler = defineSampler({
      name: `edit-${rep.name}`,
      transport: sigmaTransport(),
      grid,
      rule: consistencyStep('cm', { sigmaMin, sigmaMax }),
      modifiers: [clipDenoised(), replaceEstimate(rep, imagesRef)],
      parameterisation: 'x0',
      start: (latents) => tf.tidy(() => tf.add(imagesRef, tf.mul(latents, sigmaMax))),
    });
    const run: SampleOptions = { predictor: opts.predictor, network: opts.network, noise: opts.noise, signal: opts.signal };
    if (opts.x !== undefined) run.x = opts.x;
    else run.shape = images.shape;
    return { x: sample(sampler, run), imagesRef };
  } catch (e) {
    imagesRef.dispose();
    throw e;
  }
}

/** Inpainting (mask = 1 known). */
export function inpaint(opts: Omit<EditOptions, 'replacement'> & { mask: tf.Tensor }) {
  return edit({ ...opts, replacement: inpaintingReplacement(opts.mask) });
}

/** Colourisation of 3-channel images from their luminance. */
export function colorize(opts: Omit<EditOptions, 'replacement'>) {
  return edit({ ...opts, replacement: colorizationReplacement() });
}

/** Super-resolution from patch means (any patch size, any channel count). */
export function superResolve(opts: Omit<EditOptions, 'replacement'> & { patchSize?: number }) {
  return edit({ ...opts, replacement: superResolutionReplacement(opts.patchSize ?? 8) });
}
