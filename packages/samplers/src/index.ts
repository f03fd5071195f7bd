/**
 * @fewstep/samplers — one sampler family for every model in fewstep: a time grid x a step rule x
 * modifiers, run as a generator of step events over the (xHat, zHat) hand-off of @fewstep/core.
 */
export type {
  Estimator,
  StepContext,
  StepResult,
  RuleState,
  StepRule,
  Modifier,
  Sampler,
  SamplerEvent,
} from './types';
export { defineSampler, sampleSteps, sample } from './sampler';
export type { SamplerDefinition, SampleOptions } from './sampler';
export { estimatorOf, withDataEstimate, mapDataEstimate } from './estimator';
export { ucgmStep, ucgmSampler } from './ucgm';
export type { UcgmStepOptions, UcgmSamplerOptions } from './ucgm';
export {
  churnStep,
  dpmppTwoMStep,
  clipDenoised,
  edmSampler,
  kdiffusionSampler,
  cmKarrasSampler,
} from './karras';
export type { ChurnSolver, ChurnOptions, KarrasGridOptions, EdmSamplerOptions, KDiffusionOptions, CmKarrasOptions } from './karras';
export { cmSampler } from './cm';
export type { CmSamplerKind } from './cm';
export { consistencyStep, cmIndexGrid, cmMultistepSampler, ectMultistepSampler, oneStepSampler } from './consistency';
export type { CmMultistepOptions, EctMultistepOptions, OneStepOptions } from './consistency';
export { classifierFreeGuidance } from './guidance';
export type { GuidanceOptions } from './guidance';
export {
  inpaintingReplacement,
  colorizationReplacement,
  superResolutionReplacement,
  replaceEstimate,
  edit,
  inpaint,
  colorize,
  superResolve,
} from './editing';
export type { Replacement, EditOptions } from './editing';
export { slerp, interpolationWeights, interpolate } from './interpolation';
