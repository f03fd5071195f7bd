import { FewstepError, validate } from '@fewstep/core';
import type { NestedUNet } from './nested-unet';
import type { UNet } from './unet';

/** One stage of progressive training: the active resolutions (sides, highest first) and its length in steps. */
export interface ProgressiveStage {
  sides: number[];
  /** Steps of this stage (the last stage may use Infinity). */
  steps: number;
}

/** Where a step falls in a progressive schedule. */
export interface ProgressiveState {
  stage: number;
  /** Active sides, highest first (the lowest resolution is always trained). */
  sides: number[];
  numResolutions: number;
  /** Step index inside the stage. */
  stepInStage: number;
  /** True at the first step of a stage > 0: time to grow the network (`initializeInner`). */
  grows: boolean;
}

/**
 * MDM's progressive curriculum (`configs/*`: 64 px UNet, then 256/64 nested, then 1024/256/64):
 * stage i trains the resolutions `sides` for `steps` steps; every stage adds higher resolutions
 * on top of the previous stage's, whose network becomes the new network's inner network.
 */
export class ProgressiveSchedule {
  readonly stages: ProgressiveStage[];

  constructor(stages: ProgressiveStage[]) {
    const check = validate('ProgressiveSchedule');
    if (!Array.isArray(stages) || stages.length === 0) check.fail('stages', 'a non-empty array of {sides, steps}', stages);
    stages.forEach((st, i) => {
      const sides = check.numbers(`stages[${i}].sides`, st?.sides, { minLength: 1, min: 1 });
      for (let k = 1; k < sides.length; k++) {
        if (!(sides[k - 1] > sides[k])) check.fail(`stages[${i}].sides`, 'strictly decreasing sides (highest resolution first)', sides);
      }
      const last = i === stages.length - 1;
      if (!(last && st.steps === Infinity)) check.integer(`stages[${i}].steps`, st.steps, { min: 1 });
      if (i > 0) {
        const prev = stages[i - 1].sides;
        const tail = sides.slice(sides.length - prev.length);
        if (sides.length <= prev.length || tail.join() !== prev.join()) {
          check.fail(`stages[${i}].sides`, `the previous stage's sides [${prev}] with higher resolutions added in front`, sides);
        }
      }
    });
    this.stages = stages.map((s) => ({ sides: [...s.sides], steps: s.steps }));
  }

  /** Total number of steps (Infinity when the last stage is open-ended). */
  get totalSteps(): number {
    return this.stages.reduce((a, s) => a + s.steps, 0);
  }

  /** Which stage and resolutions are active at `step` (0-based). Steps past the end stay in the last stage. */
  at(step: number): ProgressiveState {
    validate('ProgressiveSchedule.at').integer('step', step, { min: 0 });
    let start = 0;
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages[i];
      if (step < start + st.steps || i === this.stages.length - 1) {
        return { stage: i, sides: [...st.sides], numResolutions: st.sides.length, stepInStage: step - start, grows: i > 0 && step === start };
      }
      start += st.steps;
    }
    throw new FewstepError('ProgressiveSchedule.at', 'unreachable', 'step');
  }

  /** Scales (side relative to the lowest active side) of a stage, for `NestedSchedule`. */
  scales(stage: number): number[] {
    validate('ProgressiveSchedule.scales').integer('stage', stage, { min: 0, max: this.stages.length - 1 });
    const sides = this.stages[stage].sides;
    return sides.map((s) => s / sides[sides.length - 1]);
  }
}

/**
 * Initialises a larger nested model's inner network from a trained smaller model (the
 * reference's `initialize_inner_with_pretrained`): every parameter of `pretrained` is copied to
 * `nested.inner_unet.<same name>`. Throws a FewstepError naming the mismatched parameters when
 * the architectures differ. With `freeze`, the inner network is excluded from training
 * (`freeze_inner_unet`).
 */
export function initializeInner(nested: NestedUNet, pretrained: UNet, opts: { freeze?: boolean } = {}): NestedUNet {
  const check = validate('initializeInner');
  if (!nested || !(nested as NestedUNet).innerUnet) check.fail('nested', 'a NestedUNet', nested);
  if (!pretrained || typeof (pretrained as UNet).namedEntries !== 'function') check.fail('pretrained', 'a trained UNet or NestedUNet', pretrained);
  if (pretrained.constructor !== nested.innerUnet.constructor) {
    check.fail('pretrained', `a ${nested.innerUnet.constructor.name} (the nested model's inner network type)`, pretrained.constructor.name);
  }
  nested.innerUnet.copyFrom(pretrained);
  if (opts.freeze) nested.freeze(['inner_unet.']);
  return nested;
}
