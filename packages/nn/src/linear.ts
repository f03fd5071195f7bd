import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { initWeightAndBias, type InitSpec } from './init';
import { Module } from './module';

export interface LinearOptions {
  bias?: boolean;
  init?: InitSpec;
}

/**
 * EDM's Linear: y = x · Wᵀ + b. The weight is kept as [in, out] (PyTorch's [out, in] transposed at
 * the state_dict boundary); state_dict names `weight`, `bias` (absent with bias = false).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    const check = validate('Linear');
    this.inFeatures = check.integer('inFeatures', inFeatures, { min: 1 });
    this.outFeatures = check.integer('outFeatures', outFeatures, { min: 1 });
    const { weight, bias } = initWeightAndBias('Linear', opts.init ?? {}, inFeatures * outFeatures, outFeatures, inFeatures, outFeatures);
    this.weight = this.addParameter('weight', weight, [inFeatures, outFeatures], 'linear');
    if (opts.bias ?? true) this.bias = this.addParameter('bias', bias, [outFeatures]);
  }

  /** x: [..., in] -> [..., out]. */
  forward(x: tf.Tensor): tf.Tensor {
    const check = validate('Linear.forward');
    check.tensor('x', x);
    if (x.shape[x.rank - 1] !== this.inFeatures) check.fail('x', `a tensor whose last axis is ${this.inFeatures}`, x);
    return tf.tidy(() => {
      const flat = x.rank === 2 ? x : x.reshape([-1, this.inFeatures]);
      let y: tf.Tensor = tf.matMul(flat as tf.Tensor2D, this.weight as tf.Tensor2D);
      if (this.bias) y = y.add(this.bias);
      return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }
}
