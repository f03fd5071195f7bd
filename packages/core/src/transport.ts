import * as tf from '@tensorflow/tfjs';
import { FewstepError, isTensor, validate } from './errors';
import { numberMath, tensorMath, type ScalarMath } from './scalar-math';

/** One coefficient of a transport as a formula in t, written once for numbers and tensors. */
export type TransportFn = <T>(t: T, m: ScalarMath<T>) => T;

/** The four functions that define a transport (UCGM's convention). */
export interface TransportDefinition {
  name: string;
  /** Weight of the noise z in the network input x_t = alphaIn z + gammaIn x. */
  alphaIn: TransportFn;
  /** Weight of the data x in the network input. */
  gammaIn: TransportFn;
  /** Weight of z in the native prediction target F = alphaTo z + gammaTo x. */
  alphaTo: TransportFn;
  /** Weight of x in the native prediction target. */
  gammaTo: TransportFn;
  /** Optional time derivatives of alphaIn / gammaIn (needed for the flow-velocity parameterisation). */
  dAlphaIn?: TransportFn;
  dGammaIn?: TransportFn;
  /** Valid time range, inclusive (UCGM transports: [0, 1]; sigma space: [0, Infinity]). */
  range?: [number, number];
}

export interface TransportCoefficients<T> {
  alphaIn: T;
  gammaIn: T;
  alphaTo: T;
  gammaTo: T;
}

/** A transport: how data and noise mix at time t, and what its native network predicts. */
export interface Transport {
  readonly name: string;
  readonly range: readonly [number, number];
  /** 0 if t = 0 is pure noise (integrate 0 -> 1), 1 if t = 0 is data (integrate 1 -> 0). */
  readonly integrationStart: 0 | 1;
  readonly hasDerivatives: boolean;
  alphaIn(t: number): number;
  alphaIn(t: tf.Tensor): tf.Tensor;
  gammaIn(t: number): number;
  gammaIn(t: tf.Tensor): tf.Tensor;
  alphaTo(t: number): number;
  alphaTo(t: tf.Tensor): tf.Tensor;
  gammaTo(t: number): number;
  gammaTo(t: tf.Tensor): tf.Tensor;
  dAlphaIn(t: number): number;
  dAlphaIn(t: tf.Tensor): tf.Tensor;
  dGammaIn(t: number): number;
  dGammaIn(t: tf.Tensor): tf.Tensor;
  /** All four at once (tensors are created in one tidy). */
  coefficients(t: number): TransportCoefficients<number>;
  coefficients(t: tf.Tensor): TransportCoefficients<tf.Tensor>;
  /** Throws a FewstepError if a JS time lies outside the transport's range. */
  checkTime(where: string, argument: string, t: number): number;
}

type Evaluator = ((t: number) => number) & ((t: tf.Tensor) => tf.Tensor);

/**
 * Defines a transport from its four functions of t, each written once against `ScalarMath` so it
 * evaluates on JS numbers (float64) and on tensors (float32):
 *
 *     const linear = defineTransport({
 *       name: 'linear',
 *       alphaIn: (t) => t,
 *       gammaIn: (t, m) => m.sub(1, t),
 *       alphaTo: (t, m) => m.constant(t, 1),
 *       gammaTo: (t, m) => m.constant(t, -1),
 *     });
 */
export function defineTransport(def: TransportDefinition): Transport {
  const check = validate('defineTransport');
  if (typeof def?.name !== 'string' || def.name.length === 0) check.fail('name', 'a non-empty string', def?.name);
  for (const key of ['alphaIn', 'gammaIn', 'alphaTo', 'gammaTo'] as const) check.fn(key, def[key]);
  const range = def.range ?? [0, 1];
  check.numbers('range', [range[0], Math.min(range[1], Number.MAX_VALUE)], { length: 2 });
  check.check(range[0] < range[1], 'range', 'an interval [lo, hi] with lo < hi', range);

  const where = `transport(${def.name})`;
  function checkTime(fnName: string, argument: string, t: number): number {
    if (typeof t !== 'number' || Number.isNaN(t) || t < range[0] || t > range[1]) {
      throw new FewstepError(
        fnName,
        `${argument} must be a time in [${range[0]}, ${range[1]}] for the ${def.name} transport, got ${t}`,
        argument,
      );
    }
    return t;
  }
  const evaluator = (name: string, f: TransportFn | undefined): Evaluator =>
    ((t: number | tf.Tensor) => {
      if (!f) {
        throw new FewstepError(where, `${name} is not defined: this transport was defined without time derivatives`, name);
      }
      if (typeof t === 'number') return f(checkTime(`${where}.${name}`, 't', t), numberMath);
      if (!isTensor(t)) validate(`${where}.${name}`).fail('t', 'a number or a tensor', t);
      return tf.tidy(() => f(t.toFloat(), tensorMath));
    }) as Evaluator;

  const alphaIn = evaluator('alphaIn', def.alphaIn);
  const gammaIn = evaluator('gammaIn', def.gammaIn);
  const alphaTo = evaluator('alphaTo', def.alphaTo);
  const gammaTo = evaluator('gammaTo', def.gammaTo);
  // UCGM's rule: t = 0 is noise if gammaIn(0) ~ 0, data if alphaIn(0) ~ 0, else the transport is rejected.
  const lo = range[0];
  let integrationStart: 0 | 1;
  if (Math.abs(def.gammaIn(lo, numberMath)) < 0.005) integrationStart = 0;
  else if (Math.abs(def.alphaIn(lo, numberMath)) < 0.005) integrationStart = 1;
  else {
    throw new FewstepError(
      'defineTransport',
      `transport ${def.name} must be pure noise or pure data at t = ${lo} (|gammaIn| or |alphaIn| < 0.005), got alphaIn=${def.alphaIn(
        lo,
        numberMath,
      )}, gammaIn=${def.gammaIn(lo, numberMath)}`,
      'gammaIn',
    );
  }

  function coefficients(t: number): TransportCoefficients<number>;
  function coefficients(t: tf.Tensor): TransportCoefficients<tf.Tensor>;
  function coefficients(t: number | tf.Tensor): TransportCoefficients<number> | TransportCoefficients<tf.Tensor> {
    if (typeof t === 'number') {
      return { alphaIn: alphaIn(t), gammaIn: gammaIn(t), alphaTo: alphaTo(t), gammaTo: gammaTo(t) };
    }
    return tf.tidy(() => ({ alphaIn: alphaIn(t), gammaIn: gammaIn(t), alphaTo: alphaTo(t), gammaTo: gammaTo(t) }));
  }

  return {
    name: def.name,
    range: [range[0], range[1]] as const,
    integrationStart,
    hasDerivatives: def.dAlphaIn !== undefined && def.dGammaIn !== undefined,
    alphaIn,
    gammaIn,
    alphaTo,
    gammaTo,
    dAlphaIn: evaluator('dAlphaIn', def.dAlphaIn),
    dGammaIn: evaluator('dGammaIn', def.dGammaIn),
    coefficients,
    checkTime,
  };
}
