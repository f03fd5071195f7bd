import * as tf from '@tensorflow/tfjs';
import { perSample } from './broadcast';
import { FewstepError, validate } from './errors';
import type { Transport } from './transport';

/**
 * What a network's output means. Every parameterisation in scope is a linear combination
 * `output = p(t) z + q(t) x` of noise and data, so one 2x2 solve against
 * `x_t = alphaIn z + gammaIn x` recovers the pair (xHat, zHat):
 *
 * - 'native': the transport's own target F = alphaTo z + gammaTo x (UCGM);
 * - 'x0': the data (a denoiser, e.g. an EDM-preconditioned network in sigma space);
 * - 'eps': the noise;
 * - 'v': v = gammaIn z - alphaIn x (Salimans & Ho's v, for any transport);
 * - 'flow': the velocity dx_t/dt = alphaIn' z + gammaIn' x (needs transport derivatives).
 */
export type Parameterisation = 'native' | 'x0' | 'eps' | 'v' | 'flow';

export const PARAMETERISATIONS: readonly Parameterisation[] = ['native', 'x0', 'eps', 'v', 'flow'];

export interface Estimates {
  /** The model's estimate of the data x. */
  xHat: tf.Tensor;
  /** The model's estimate of the noise z. */
  zHat: tf.Tensor;
}

type Coef = number | tf.Tensor;

/** The weights (p, q) of z and x in the output of a parameterisation at time t. */
function outputWeights(transport: Transport, param: Parameterisation, t: number | tf.Tensor): { p: Coef; q: Coef } {
  const T = t as tf.Tensor; // overloads accept both; the union is resolved at run time
  switch (param) {
    case 'native':
      return { p: transport.alphaTo(T), q: transport.gammaTo(T) };
    case 'x0':
      return { p: 0, q: 1 };
    case 'eps':
      return { p: 1, q: 0 };
    case 'v':
      return { p: transport.gammaIn(T), q: neg(transport.alphaIn(T)) };
    case 'flow':
      if (!transport.hasDerivatives) {
        throw new FewstepError(
          'recoverEstimates',
          `parameterisation must not be "flow" for transport ${transport.name}: it was defined without dAlphaIn/dGammaIn`,
          'parameterisation',
        );
      }
      return { p: transport.dAlphaIn(T), q: transport.dGammaIn(T) };
  }
}

function neg(c: Coef): Coef {
  return typeof c === 'number' ? -c : tf.neg(c);
}

/**
 * Recovers (xHat, zHat) from a network output at time t (a JS number, or a per-sample tensor [B])
 * for the given transport and parameterisation. Returns new tensors; the inputs are not disposed.
 */
export function recoverEstimates(
  transport: Transport,
  parameterisation: Parameterisation,
  xt: tf.Tensor,
  output: tf.Tensor,
  t: number | tf.Tensor,
): Estimates {
  const check = validate('recoverEstimates');
  check.oneOf('parameterisation', parameterisation, PARAMETERISATIONS);
  check.tensor('xt', xt);
  check.tensor('output', output);
  check.sameShape('xt', xt, 'output', output);
  if (typeof t === 'number') {
    transport.checkTime('recoverEstimates', 't', t);
    checkSolvable(transport, parameterisation, t);
  } else {
    check.tensor('t', t, { dtype: 'float32' });
    check.shape('t', t, [xt.shape[0]]);
  }
  return tf.tidy(() => {
    const b = (c: Coef) => (typeof c === 'number' ? c : perSample(c, xt));
    const a = b(transport.alphaIn(t as tf.Tensor));
    const g = b(transport.gammaIn(t as tf.Tensor));
    // x0 and eps are solved directly: exact, and finite where the other weight vanishes.
    if (parameterisation === 'x0') return { xHat: output.clone(), zHat: tf.div(tf.sub(xt, tf.mul(output, g)), a) };
    if (parameterisation === 'eps') return { xHat: tf.div(tf.sub(xt, tf.mul(output, a)), g), zHat: output.clone() };
    const w = outputWeights(transport, parameterisation, t);
    const p = b(w.p);
    const q = b(w.q);
    const dent = tf.sub(tf.mul(a, q), tf.mul(g, p));
    return {
      xHat: tf.div(tf.sub(tf.mul(output, a), tf.mul(xt, p)), dent),
      zHat: tf.div(tf.sub(tf.mul(xt, q), tf.mul(output, g)), dent),
    };
  }) as Estimates;
}

/**
 * At a scalar time where the 2x2 system is singular (the data end for 'x0', the noise end for
 * 'eps', ...) one of the two estimates is undetermined: say so rather than return 0/0. A
 * per-sample tensor of times is not read back (that would sync the device); samplers keep their
 * grids inside the open interval, and an exact endpoint there gives a non-finite estimate.
 */
function checkSolvable(transport: Transport, parameterisation: Parameterisation, t: number): void {
  const a = transport.alphaIn(t);
  const g = transport.gammaIn(t);
  const w = parameterisation === 'x0' || parameterisation === 'eps' ? undefined : outputWeights(transport, parameterisation, t);
  const det = parameterisation === 'x0' ? a : parameterisation === 'eps' ? g : a * (w!.q as number) - g * (w!.p as number);
  if (det === 0 || !Number.isFinite(det)) {
    throw new FewstepError(
      'recoverEstimates',
      `t = ${t} must be a time where the "${parameterisation}" output determines both estimates for transport ${transport.name} ` +
        `(alphaIn = ${a}, gammaIn = ${g}): at this time one of xHat, zHat is undetermined`,
      't',
    );
  }
}

/** x_t = alphaIn(t) z + gammaIn(t) x: the network input at time t. */
export function mixAt(transport: Transport, x: tf.Tensor, z: tf.Tensor, t: number | tf.Tensor): tf.Tensor {
  return combine('mixAt', transport.alphaIn.bind(transport), transport.gammaIn.bind(transport), x, z, t);
}

/** F = alphaTo(t) z + gammaTo(t) x: the transport's native target at time t. */
export function nativeTarget(transport: Transport, x: tf.Tensor, z: tf.Tensor, t: number | tf.Tensor): tf.Tensor {
  return combine('nativeTarget', transport.alphaTo.bind(transport), transport.gammaTo.bind(transport), x, z, t);
}

function combine(
  where: string,
  zWeight: (t: any) => any,
  xWeight: (t: any) => any,
  x: tf.Tensor,
  z: tf.Tensor,
  t: number | tf.Tensor,
): tf.Tensor {
  const check = validate(where);
  check.tensor('x', x);
  check.tensor('z', z);
  check.sameShape('x', x, 'z', z);
  if (typeof t !== 'number') check.shape('t', t, [x.shape[0]]);
  else check.number('t', t);
  return tf.tidy(() => {
    const b = (c: Coef) => (typeof c === 'number' ? c : perSample(c, x));
    return tf.add(tf.mul(z, b(zWeight(t))), tf.mul(x, b(xWeight(t))));
  });
}
