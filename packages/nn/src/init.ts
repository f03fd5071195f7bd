import { validate } from '@fewstep/core';
import { Rng } from './rng';

/** EDM's `weight_init` modes. */
export type InitMode = 'xavier_uniform' | 'xavier_normal' | 'kaiming_uniform' | 'kaiming_normal';
export const INIT_MODES: readonly InitMode[] = ['xavier_uniform', 'xavier_normal', 'kaiming_uniform', 'kaiming_normal'];

/**
 * How a layer initialises itself: weight = init(mode) · weight, bias = init(mode) · bias (EDM's
 * `init_mode`, `init_weight`, `init_bias`; default kaiming_normal, 1, 0). `rng` supplies the draws
 * (weight first, then bias).
 */
export interface InitSpec {
  mode?: InitMode;
  weight?: number;
  bias?: number;
  rng?: Rng;
}

/**
 * EDM's weight_init(shape, mode, fan_in, fan_out) as a flat Float32Array of `size` values:
 * xavier_uniform sqrt(6/(fi+fo))·U(−1,1), xavier_normal sqrt(2/(fi+fo))·N(0,1),
 * kaiming_uniform sqrt(3/fi)·U(−1,1), kaiming_normal sqrt(1/fi)·N(0,1).
 */
export function weightInit(size: number, mode: InitMode, fanIn: number, fanOut: number, rng: Rng): Float32Array {
  const check = validate('weightInit');
  check.integer('size', size, { min: 0 });
  check.oneOf('mode', mode, INIT_MODES);
  check.finite('fanIn', fanIn, { gt: 0 });
  check.finite('fanOut', fanOut, { gt: 0 });
  const uniform = mode.endsWith('uniform');
  const scale =
    mode === 'xavier_uniform'
      ? Math.sqrt(6 / (fanIn + fanOut))
      : mode === 'xavier_normal'
        ? Math.sqrt(2 / (fanIn + fanOut))
        : mode === 'kaiming_uniform'
          ? Math.sqrt(3 / fanIn)
          : Math.sqrt(1 / fanIn);
  const out = rng.fill(size, uniform ? 'uniform' : 'normal');
  for (let i = 0; i < size; i++) out[i] *= scale;
  return out;
}

/** Draws a layer's weight and bias per `spec` (multipliers applied; a zero multiplier gives exact zeros). */
export function initWeightAndBias(
  where: string,
  spec: InitSpec,
  weightSize: number,
  biasSize: number,
  fanIn: number,
  fanOut: number,
): { weight: Float32Array; bias: Float32Array } {
  const check = validate(where);
  const mode = check.oneOf('init.mode', spec.mode ?? 'kaiming_normal', INIT_MODES);
  const wMul = check.finite('init.weight', spec.weight ?? 1);
  const bMul = check.finite('init.bias', spec.bias ?? 0);
  const rng = spec.rng ?? new Rng(0);
  const weight = weightInit(weightSize, mode, Math.max(fanIn, 1), Math.max(fanOut, 1), rng).map((v) => v * wMul);
  const bias = weightInit(biasSize, mode, Math.max(fanIn, 1), Math.max(fanOut, 1), rng).map((v) => v * bMul);
  return { weight, bias };
}
