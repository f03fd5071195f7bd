/**
 * @fewstep/core — the ground every fewstep package stands on: transports and the (xHat, zHat)
 * hand-off, preconditioning, time grids and distributions, curricula, noise sources, EMA,
 * optimizers, and the FewstepError type.
 */
export { FewstepError, Validator, validate, describe, isTensor, MAX_LENGTH } from './errors';
export type { NumberBounds } from './errors';
export { ASYNC_READ_BACKENDS, syncReadsAllowed, assertSyncRead } from './host-read';
export type { Network, NetworkOptions, RawNetwork } from './network';
export { perSample, meanOverNonBatch, sumOverNonBatch, toPerSample } from './broadcast';
export { numberMath, tensorMath } from './scalar-math';
export type { ScalarMath } from './scalar-math';
export { defineTransport } from './transport';
export type { Transport, TransportDefinition, TransportFn, TransportCoefficients } from './transport';
export {
  linearTransport,
  reLinearTransport,
  trigFlowTransport,
  trigLinearTransport,
  randomTransport,
  ucgmEdmTransport,
  sigmaTransport,
  vpTransport,
  transportByName,
} from './transports';
export type { TrigOptions } from './transports';
export { recoverEstimates, mixAt, nativeTarget, PARAMETERISATIONS } from './parameterisation';
export type { Parameterisation, Estimates } from './parameterisation';
export { createPredictor } from './predictor';
export type { Predictor, Prediction } from './predictor';
export {
  edmPreconditioning,
  vpPreconditioning,
  vePreconditioning,
  consistencyPreconditioning,
  ectPreconditioning,
  precondition,
} from './precond';
export type { Preconditioning, PrecondCoefficients } from './precond';
export { odeDerivative, eulerStep, heunStep, transportStep } from './ode';
export type { Denoiser } from './ode';
export {
  karrasSigmas,
  exponentialSigmas,
  uniformTimes,
  cmIndexSigma,
  rhoRoots,
  kumaraswamy,
  unifiedTimeGrid,
  explicitGrid,
} from './grids';
export type { KarrasOptions, UnifiedGridOptions } from './grids';
export { logNormalTimes, betaTimes, logitNormalTimes, uniformTimeDistribution } from './time-distributions';
export type { TimeDistribution } from './time-distributions';
export {
  cmCurriculum,
  ictNumScales,
  ictSigmas,
  ictIndexProbabilities,
  ictWeights,
  erf,
  ectRatio,
  ectTToR,
  ectStage,
  roundHalfEven,
} from './curricula';
export type { CmCurriculumOptions, EctMappingOptions } from './curricula';
export { seededNoise, perSampleNoise, replayNoise, noiseFromState } from './noise';
export type { NoiseSource, NoiseState, RecordedDraw, ReplaySource } from './noise';
export { stopGradient } from './gradient';
export { updateEma, fixedDecay, halfLifeDecay, powerDecay, ExponentialMovingAverage } from './ema';
export type { EmaDecay } from './ema';
export { AdamW, RAdam, clipByGlobalNorm } from './optimizers';
export type { AdamOptions } from './optimizers';
export { constantLr, warmupLr, cosineLr, inverseSqrtLr } from './lr-schedules';
export type { LrSchedule } from './lr-schedules';
export { mdmGammas, vdmLossWeights, shiftGamma } from './mdm-schedules';
export type { MdmScheduleType } from './mdm-schedules';
export { snrWeighting, SNR_WEIGHTINGS } from './weightings';
export type { SnrWeighting } from './weightings';
export { createRng, hash32 } from './rng';
export { GROUP_NORM_KERNEL, GROUP_NORM_GRAD_KERNEL } from './fused-kernels';
export type { GroupNormAttrs } from './fused-kernels';
export type { Rng } from './rng';
export { fromLayersModel } from './layers-model';
export { readSafetensors, writeSafetensors, halfToFloat, floatToHalf } from './safetensors';
export type { HostTensor, SafetensorsDtype, SafetensorsFile } from './safetensors';
