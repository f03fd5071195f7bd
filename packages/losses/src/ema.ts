import type * as tf from '@tensorflow/tfjs';
import { updateEma as coreUpdateEma } from '@fewstep/core';
import { runWithoutGradient } from './gradient';

/**
 * theta^- <- rate theta^- + (1 - rate) theta (OpenAI CM / UCGM `update_ema`), via core's
 * `updateEma`, run outside any gradient tape so a loss may call it mid-step.
 */
export function updateTeacherEma(target: readonly tf.Variable[], source: readonly tf.Tensor[], rate: number): void {
  runWithoutGradient(() => coreUpdateEma(target, source, rate));
}
