import * as tf from '@tensorflow/tfjs';
import { toPerSample } from './broadcast';
import { validate } from './errors';
import type { Network, NetworkOptions } from './network';
import { PARAMETERISATIONS, recoverEstimates, type Estimates, type Parameterisation } from './parameterisation';
import type { Transport } from './transport';

export interface Prediction extends Estimates {
  /** The raw network output (in the parameterisation's terms). */
  output: tf.Tensor;
}

/** Network + transport + parameterisation: the hand-off point to losses and samplers. */
export interface Predictor {
  readonly network: Network;
  readonly transport: Transport;
  readonly parameterisation: Parameterisation;
  /**
   * Runs the network on x_t at time t (a JS number shared by the batch, or a tensor [B]) and
   * returns {xHat, zHat, output}. The network always receives one time per sample ([B]).
   */
  predict(xt: tf.Tensor, t: number | tf.Tensor, opts?: NetworkOptions): Prediction;
}

export function createPredictor(config: {
  network: Network;
  transport: Transport;
  parameterisation?: Parameterisation;
}): Predictor {
  const check = validate('createPredictor');
  const network = check.fn<Network>('network', config?.network);
  const transport = config.transport;
  if (!transport || typeof transport.alphaIn !== 'function') check.fail('transport', 'a Transport', transport);
  const parameterisation = check.oneOf('parameterisation', config.parameterisation ?? 'native', PARAMETERISATIONS);
  return {
    network,
    transport,
    parameterisation,
    predict(xt, t, opts) {
      validate('Predictor.predict').tensor('xt', xt);
      if (typeof t === 'number') transport.checkTime('Predictor.predict', 't', t);
      else validate('Predictor.predict').tensor('t', t, { dtype: 'float32' }); // a bool / int t hits the transport's singular ends
      return tf.tidy(() => {
        const tVec = toPerSample(t, xt.shape[0], 'Predictor.predict', 't');
        const output = network(xt, tVec, opts);
        validate('Predictor.predict').sameShape('xt', xt, 'network output', output);
        const { xHat, zHat } = recoverEstimates(transport, parameterisation, xt, output, t);
        return { xHat, zHat, output };
      }) as Prediction;
    },
  };
}
