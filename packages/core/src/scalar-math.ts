import * as tf from '@tensorflow/tfjs';

/**
 * The arithmetic a transport or schedule formula needs, over JS numbers (float64) or tensors
 * (float32, elementwise). Writing a formula once against this interface evaluates it both ways.
 */
export interface ScalarMath<T> {
  /** `v` broadcast to the shape of `like` (constants of a transport have t's shape). */
  constant(like: T, v: number): T;
  add(a: T, b: T | number): T;
  sub(a: T | number, b: T | number): T;
  mul(a: T, b: T | number): T;
  div(a: T | number, b: T | number): T;
  neg(a: T): T;
  sin(a: T): T;
  cos(a: T): T;
  exp(a: T): T;
  log(a: T): T;
  sqrt(a: T): T;
  square(a: T): T;
}

export const numberMath: ScalarMath<number> = {
  constant: (_like, v) => v,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  neg: (a) => -a,
  sin: Math.sin,
  cos: Math.cos,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  square: (a) => a * a,
};

const T = (v: tf.Tensor | number): tf.Tensor | number => v;

export const tensorMath: ScalarMath<tf.Tensor> = {
  constant: (like, v) => tf.fill(like.shape, v),
  add: (a, b) => tf.add(a, T(b)),
  sub: (a, b) => tf.sub(T(a), T(b)),
  mul: (a, b) => tf.mul(a, T(b)),
  div: (a, b) => tf.div(T(a), T(b)),
  neg: (a) => tf.neg(a),
  sin: (a) => tf.sin(a),
  cos: (a) => tf.cos(a),
  exp: (a) => tf.exp(a),
  log: (a) => tf.log(a),
  sqrt: (a) => tf.sqrt(a),
  square: (a) => tf.square(a),
};
