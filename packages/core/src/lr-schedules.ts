import { validate } from './errors';

/** A learning-rate schedule: the rate at a (0-based) optimisation step. */
export type LrSchedule = (step: number) => number;

function checkStep(where: string, step: number): void {
  validate(where).integer('step', step, { min: 0 });
}

export function constantLr(lr: number): LrSchedule {
  validate('constantLr').finite('lr', lr, { min: 0 });
  return (step) => (checkStep('constantLr', step), lr);
}

/** Linear warm-up from 0 to `lr` over `warmupSteps`, then constant (EDM's lr_rampup). */
export function warmupLr(lr: number, warmupSteps: number): LrSchedule {
  const check = validate('warmupLr');
  check.finite('lr', lr, { min: 0 });
  check.integer('warmupSteps', warmupSteps, { min: 0 });
  return (step) => (checkStep('warmupLr', step), warmupSteps === 0 ? lr : lr * Math.min(1, (step + 1) / warmupSteps));
}

/** Warm-up then cosine decay to `minLr` at `totalSteps`. */
export function cosineLr(opts: { lr: number; totalSteps: number; warmupSteps?: number; minLr?: number }): LrSchedule {
  const check = validate('cosineLr');
  const lr = check.finite('lr', opts?.lr, { min: 0 });
  const total = check.integer('totalSteps', opts.totalSteps, { min: 1 });
  const warm = check.integer('warmupSteps', opts.warmupSteps ?? 0, { min: 0, lt: total });
  const minLr = check.finite('minLr', opts.minLr ?? 0, { min: 0, max: lr });
  return (step) => {
    checkStep('cosineLr', step);
    if (step < warm) return (lr * (step + 1)) / warm;
    const p = Math.min(1, (step - warm) / Math.max(1, total - warm));
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
  };
}

/** EDM2's inverse-square-root decay: lr / sqrt(max(step / refSteps, 1)), with optional warm-up. */
export function inverseSqrtLr(opts: { lr: number; refSteps: number; warmupSteps?: number }): LrSchedule {
  const check = validate('inverseSqrtLr');
  const lr = check.finite('lr', opts?.lr, { min: 0 });
  const ref = check.finite('refSteps', opts.refSteps, { gt: 0 });
  const warm = check.integer('warmupSteps', opts.warmupSteps ?? 0, { min: 0 });
  return (step) => {
    checkStep('inverseSqrtLr', step);
    const base = lr / Math.sqrt(Math.max(step / ref, 1));
    return warm > 0 ? base * Math.min(1, (step + 1) / warm) : base;
  };
}
