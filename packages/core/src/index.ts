export { FewstepError, Validator, validate, describe, isTensor } from './errors';
export type { NumberBounds } from './errors';
export type { Network, NetworkOptions, RawNetwork } from './network';
export { perSample, meanOverNonBatch, sumOverNonBatch, toPerSample } from './broadcast';
export {
  edmPreconditioning,
  vpPreconditioning,
  vePreconditioning,
  consistencyPreconditioning,
  ectPreconditioning,
  precondition,
} from './precond';
export type { Preconditioning, PrecondCoefficients } from './precond';
