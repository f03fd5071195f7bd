import * as tf from '@tensorflow/tfjs';
import {
  createPredictor,
  validate,
  type Estimates,
  type Network,
  type Parameterisation,
  type Predictor,
  type Transport,
} from '@fewstep/core';
import type { Estimator, Modifier } from './types';

/** The model as an Estimator: one network call per evaluation, through the predictor. */
export function estimatorOf(predictor: Predictor): Estimator {
  return (x, t, opts) =>
    tf.tidy(() => {
      const { xHat, zHat } = predictor.predict(x, t, opts);
      return { xHat, zHat };
    }) as Estimates;
}

/** A predictor for the sampler's transport from either a Predictor or a bare network. */
export function resolvePredictor(
  where: string,
  transport: Transport,
  defaultParameterisation: Parameterisation,
  opts: { predictor?: Predictor; network?: Network; parameterisation?: Parameterisation },
): Predictor {
  const check = validate(where);
  if (opts.predictor) {
    if (opts.network) check.fail('network', 'absent when a predictor is given', opts.network);
    const p = opts.predictor;
    if (!p || typeof p.predict !== 'function') check.fail('predictor', 'a Predictor', p);
    if (p.transport.name !== transport.name) {
      check.fail('predictor', `a predictor for the sampler's transport "${transport.name}"`, `transport "${p.transport.name}"`);
    }
    return p;
  }
  const network = opts.network ?? check.fail('network', 'a network function (or pass a predictor)', opts.network);
  return createPredictor({
    network,
    transport,
    parameterisation: opts.parameterisation ?? defaultParameterisation,
  });
}

/**
 * Estimates with a replaced data estimate: zHat is recomputed from x_t = alphaIn z + gammaIn x so the
 * pair stays consistent (what clamping or editing a denoised image means for the noise estimate).
 */
export function withDataEstimate(transport: Transport, x: tf.Tensor, t: number, xHat: tf.Tensor): Estimates {
  return tf.tidy(() => ({
    xHat: xHat.clone(),
    zHat: tf.div(tf.sub(x, tf.mul(xHat, transport.gammaIn(t))), transport.alphaIn(t)),
  })) as Estimates;
}

/**
 * A modifier from a function of the data estimate alone (clamping, thresholding, an editing
 * projection): xHat <- fn(xHat, t), with zHat recomputed to match. Runs inside a tidy.
 */
export function mapDataEstimate(name: string, fn: (xHat: tf.Tensor, t: number) => tf.Tensor): Modifier {
  validate('mapDataEstimate').fn('fn', fn);
  return {
    name,
    wrap: (inner, { transport }) => (x, t, opts) =>
      tf.tidy(() => {
        const e = inner(x, t, opts);
        const xHat = fn(e.xHat, t);
        return { xHat, zHat: tf.div(tf.sub(x, tf.mul(xHat, transport.gammaIn(t))), transport.alphaIn(t)) };
      }) as Estimates,
  };
}
