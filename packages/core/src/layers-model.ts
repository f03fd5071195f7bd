import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';
import type { Network } from './network';

/**
 * Makes a tfjs LayersModel usable wherever a fewstep network is. `inputs`: 'x-and-t' (default)
 * for a model with two inputs [x, t] (t of shape [B] or [B, 1], as the model declares), 'x' for a
 * model that ignores time. Training mode follows `opts.train` (dropout, batch norm).
 */
export function fromLayersModel(model: tf.LayersModel, opts: { inputs?: 'x-and-t' | 'x' } = {}): Network {
  const check = validate('fromLayersModel');
  if (!model || typeof (model as tf.LayersModel).apply !== 'function' || !Array.isArray((model as tf.LayersModel).inputs)) {
    check.fail('model', 'a tf.LayersModel', model);
  }
  const mode = check.oneOf('inputs', opts.inputs ?? 'x-and-t', ['x-and-t', 'x'] as const);
  const expected = mode === 'x' ? 1 : 2;
  if (model.inputs.length !== expected) {
    check.fail('model', `a model with ${expected} input(s) for inputs: '${mode}'`, `a model with ${model.inputs.length} inputs`);
  }
  const tRank = mode === 'x' ? 0 : model.inputs[1].shape.length;
  return (x, t, netOpts) =>
    tf.tidy(() => {
      const training = netOpts?.train ?? false;
      if (mode === 'x') return model.apply(x, { training }) as tf.Tensor;
      const tIn = tRank === 2 ? t.reshape([-1, 1]) : t;
      return model.apply([x, tIn], { training }) as tf.Tensor;
    });
}
