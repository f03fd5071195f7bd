import type { Tensor } from '@tensorflow/tfjs';

/** Options every fewstep network accepts (a network ignores the ones it has no use for). */
export interface NetworkOptions {
  /** Class labels: int32 [B] indices or float32 [B, numClasses] one-hot rows. */
  classLabels?: Tensor;
  /** Augmentation labels (EDM's non-leaky augmentation), float32 [B, dim]. */
  augmentLabels?: Tensor;
  /** Any other conditioning a user network wants (text embeddings, ...). */
  cond?: Tensor;
  /** Training mode: dropout active. Defaults to the network's own mode. */
  train?: boolean;
  /**
   * Seed for dropout masks: two calls with the same seed and shapes draw identical masks (ECT and
   * UCGM compare two forward passes that must share one mask).
   */
  dropoutSeed?: number;
}

/**
 * A network: any function of the noisy input x (NHWC or [B, D]) and one time or noise level per
 * sample `t` (shape [B]). fewstep networks, tfjs LayersModels wrapped by `fromLayersModel`, and
 * plain user functions all have this shape.
 */
export type Network = (x: Tensor, t: Tensor, opts?: NetworkOptions) => Tensor;

/**
 * A raw network inside a preconditioner: it sees the scaled input `cIn * x` and the
 * preconditioner's noise label `cNoise` (shape [B]).
 */
export type RawNetwork = (xIn: Tensor, noiseLabel: Tensor, opts?: NetworkOptions) => Tensor;
