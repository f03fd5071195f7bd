export { FewstepError, Validator, validate, describe, isTensor } from './errors';
export type { NumberBounds } from './errors';
