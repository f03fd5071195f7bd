import * as tf from '@tensorflow/tfjs';
import type { NetworkOptions } from '@fewstep/core';
import { validate } from '@fewstep/core';
import { ForwardContext } from './context';

/** The validated inputs of an image network's forward pass. */
export interface ImageNetInputs {
  x: tf.Tensor4D;
  /** [B] noise labels (a scalar is broadcast). */
  noiseLabels: tf.Tensor1D;
  /** [B, labelDim] float labels, or undefined for unconditional networks. */
  classLabels?: tf.Tensor2D;
  augmentLabels?: tf.Tensor2D;
  ctx: ForwardContext;
}

/**
 * Checks and normalises the (x, noiseLabels, opts) of a U-Net call: x NHWC with `inChannels` and a
 * size divisible by 2^(levels−1); noise labels [B] or a scalar; class labels as int32 indices [B]
 * or float rows [B, labelDim] / [1, labelDim] (missing = zero rows, EDM's convention); augment
 * labels [B, augmentDim]. Call inside tf.tidy: new tensors are not tracked otherwise.
 */
export function imageNetInputs(
  where: string,
  cfg: { inChannels: number; labelDim: number; augmentDim: number; levels: number; training: boolean },
  x: tf.Tensor,
  noiseLabels: tf.Tensor,
  opts: NetworkOptions = {},
): ImageNetInputs {
  const check = validate(where);
  check.tensor('x', x, { rank: 4 });
  const [B, H, W, C] = x.shape;
  if (C !== cfg.inChannels) check.fail('x', `an NHWC tensor with ${cfg.inChannels} channels`, x);
  const div = 2 ** (cfg.levels - 1);
  if (H % div !== 0 || W % div !== 0) check.fail('x', `an NHWC tensor whose height and width are divisible by ${div}`, x);
  check.tensor('noiseLabels', noiseLabels, { rank: [0, 1] });
  if (noiseLabels.rank === 1 && noiseLabels.shape[0] !== B) check.fail('noiseLabels', `a scalar or a tensor of shape [${B}]`, noiseLabels);
  const labels = noiseLabels.rank === 0 ? tf.broadcastTo(noiseLabels.toFloat(), [B]) : noiseLabels.toFloat();
  const out: ImageNetInputs = {
    x: x.toFloat() as tf.Tensor4D,
    noiseLabels: labels as tf.Tensor1D,
    ctx: new ForwardContext(opts.train ?? cfg.training, opts.dropoutSeed),
  };
  if (cfg.labelDim > 0) out.classLabels = classLabelRows(where, opts.classLabels, B, cfg.labelDim);
  else if (opts.classLabels !== undefined) check.fail('classLabels', 'undefined for a network with labelDim 0', opts.classLabels);
  if (opts.augmentLabels !== undefined) {
    if (cfg.augmentDim === 0) check.fail('augmentLabels', 'undefined for a network with augmentDim 0', opts.augmentLabels);
    out.augmentLabels = check.shape('augmentLabels', opts.augmentLabels, [B, cfg.augmentDim]).toFloat() as tf.Tensor2D;
  }
  return out;
}

function classLabelRows(where: string, labels: tf.Tensor | undefined, batch: number, labelDim: number): tf.Tensor2D {
  const check = validate(where);
  if (labels === undefined) return tf.zeros([batch, labelDim]);
  check.tensor('classLabels', labels, { rank: [1, 2] });
  if (labels.rank === 1) {
    if (labels.dtype !== 'int32' || labels.shape[0] !== batch) {
      check.fail('classLabels', `int32 class indices of shape [${batch}] or float rows [${batch}, ${labelDim}]`, labels);
    }
    return tf.oneHot(labels as tf.Tensor1D, labelDim).toFloat() as tf.Tensor2D;
  }
  if (labels.shape[1] !== labelDim || (labels.shape[0] !== batch && labels.shape[0] !== 1)) {
    check.fail('classLabels', `a tensor of shape [${batch}, ${labelDim}] (or [1, ${labelDim}])`, labels);
  }
  return tf.broadcastTo(labels.toFloat(), [batch, labelDim]) as tf.Tensor2D;
}
