import * as tf from '@tensorflow/tfjs';
import { mixAt, nativeTarget, perSample, type Network, type NetworkOptions, type Transport } from '@fewstep/core';

/** Everything the UCGM-T target needs at one step (all tensors are treated as constants). */
export interface UcgmTargetInputs {
  transport: Transport;
  network: Network;
  teacher: Network;
  x: tf.Tensor;
  z: tf.Tensor;
  xt: tf.Tensor;
  /** The online output F_t (detached by the caller). */
  F: tf.Tensor;
  t: tf.Tensor1D;
  /** Rows whose label was kept (not replaced by the null class), bool [B]. */
  kept: tf.Tensor1D;
  /** Options of the online / teacher forwards with the (dropped) labels, and with all-null labels. */
  withLabels: NetworkOptions;
  withNullLabels: NetworkOptions;
  consistencyRatio: number;
  enhancedRatio: number;
  enhancedRange: readonly [number, number];
}

const HALF_PI = 1.57; // the reference's literal, not Math.PI / 2

/** xHat = (F alphaIn - x_t alphaTo) / dent and zHat = (x_t gammaTo - F gammaIn) / dent, per sample. */
function estimates(transport: Transport, xt: tf.Tensor, F: tf.Tensor, t: tf.Tensor1D): { xHat: tf.Tensor; zHat: tf.Tensor } {
  const c = transport.coefficients(t);
  const b = (v: tf.Tensor) => perSample(v, xt);
  const dent = tf.sub(tf.mul(b(c.alphaIn), b(c.gammaTo)), tf.mul(b(c.gammaIn), b(c.alphaTo)));
  return {
    xHat: tf.div(tf.sub(tf.mul(F, b(c.alphaIn)), tf.mul(xt, b(c.alphaTo))), dent),
    zHat: tf.div(tf.sub(tf.mul(xt, b(c.gammaTo)), tf.mul(F, b(c.gammaIn))), dent),
  };
}

/**
 * unigen:UCGMTS.enhance_target as a select: kept rows inside the enhanced range get
 * tgt + enr (pw - pwo), other kept rows (tgt + pw)/2, dropped rows (tgt + pwo)/2.
 */
function enhance(tgt: tf.Tensor, pw: tf.Tensor, pwo: tf.Tensor, keptInRange: tf.Tensor, kept: tf.Tensor, enr: number): tf.Tensor {
  const rows = (m: tf.Tensor) => tf.broadcastTo(perSample(m, tgt), tgt.shape);
  const inRange = tf.add(tgt, tf.mul(tf.sub(pw, pwo), enr));
  const outRange = tf.mul(tf.add(tgt, pw), 0.5);
  const dropped = tf.mul(tf.add(tgt, pwo), 0.5);
  return tf.where(rows(keptInRange), inRange, tf.where(rows(kept), outRange, dropped));
}

/** The data estimate of the online network at time r from x_r = alphaIn(r) z + gammaIn(r) x. */
function dataEstimateAt(i: UcgmTargetInputs, x: tf.Tensor, z: tf.Tensor, r: tf.Tensor1D): tf.Tensor {
  const xr = mixAt(i.transport, x, z, r);
  const Fr = i.network(xr, r, i.withLabels);
  return estimates(i.transport, xr, Fr, r).xHat;
}

/**
 * UCGM-T's stop-gradient target (unigen:UCGMTS.training_step, steps 5-6): the native target,
 * optionally with the enhanced (training-time guidance) x and z, then optionally replaced by the
 * consistency target F - (alphaIn/dent) (4 / sin(1.57 t)) clamp(df, -1, 1). Call it inside
 * `withoutGradient`.
 */
export function ucgmTarget(i: UcgmTargetInputs): tf.Tensor {
  const { transport, t, consistencyRatio: cor, enhancedRatio: enr } = i;
  let x = i.x;
  let z = i.z;
  if (enr !== 0) {
    const idx = tf.logicalAnd(tf.greater(t, i.enhancedRange[0]), tf.less(t, i.enhancedRange[1]));
    const keptInRange = tf.logicalAnd(idx, i.kept);
    const online = estimates(transport, i.xt, i.F, t);
    if (cor === 0) {
      // Multi-step: guidance from the teacher's unconditional prediction.
      const unc = estimates(transport, i.xt, i.teacher(i.xt, t, i.withNullLabels), t);
      x = enhance(i.x, online.xHat, unc.xHat, keptInRange, i.kept, enr);
      z = enhance(i.z, online.zHat, unc.zHat, keptInRange, i.kept, enr);
    } else {
      // Few-step: move the data / noise towards the teacher's conditional prediction.
      const m = estimates(transport, i.xt, i.teacher(i.xt, t, i.withLabels), t);
      x = enhance(i.x, m.xHat, i.x, keptInRange, i.kept, enr);
      z = enhance(i.z, m.zHat, i.z, keptInRange, i.kept, enr);
    }
  }
  if (cor === 0) return nativeTarget(transport, x, z, t);
  let df: tf.Tensor;
  if (cor === 1) {
    // Continuous-time: central difference of the data estimate, t +- 0.005 (not clamped, as in the reference).
    const eps = 0.005;
    const dv = 1 / (2 * eps);
    const up = dataEstimateAt(i, x, z, tf.add(t, eps) as tf.Tensor1D);
    const down = dataEstimateAt(i, x, z, tf.sub(t, eps) as tf.Tensor1D);
    df = tf.sub(tf.mul(up, dv), tf.mul(down, dv));
  } else {
    const eps = tf.sub(t, tf.mul(t, cor)) as tf.Tensor1D;
    const dv = perSample(tf.reciprocal(eps), i.x);
    const xtEnhanced = mixAt(transport, x, z, t);
    const here = estimates(transport, xtEnhanced, i.F, t).xHat;
    const before = dataEstimateAt(i, x, z, tf.sub(t, eps) as tf.Tensor1D);
    df = tf.sub(tf.mul(here, dv), tf.mul(before, dv));
  }
  df = tf.clipByValue(df, -1, 1);
  const c = transport.coefficients(t);
  const b = (v: tf.Tensor) => perSample(v, i.x);
  const dent = tf.sub(tf.mul(c.alphaIn, c.gammaTo), tf.mul(c.gammaIn, c.alphaTo));
  const w = tf.div(4, tf.sin(tf.mul(t, HALF_PI)));
  const scale = tf.mul(tf.div(c.alphaIn, dent), w);
  return tf.sub(i.F, tf.mul(b(scale), df));
}
