/**
 * @fewstep/mdm — Matryoshka Diffusion (apple/ml-mdm): NestedUNet with PyTorch parameter names,
 * multi-resolution inputs / targets / loss, resolution-shifted schedules, nested sampling and
 * progressive training.
 */
export {
  ResNet,
  ResNetBlock,
  SelfAttention,
  TimeEmbedding,
  SequentialNames,
  sinusoidalEmbedding,
  embedTimes,
  nearestUpsample2x,
  strideTwoConv,
  groupNorm,
  gelu,
  torchInit,
} from './blocks';
export type { ResNetOptions, SelfAttentionOptions, ResNetBlockOptions } from './blocks';
export { configFromReference, resolveConfig, isNestedConfig } from './config';
export type { UNetConfig, NestedUNetConfig, AnyUNetConfig, ResolvedUNetConfig } from './config';
export { UNet, multiResNetwork } from './unet';
export type { MdmForwardOptions, MultiResNetwork, UNetOptions, NestedResult } from './unet';
export { NestedUNet, normalizeByStd } from './nested-unet';
export { NestedSchedule, noisyInput, predictionTarget, x0FromPrediction, epsFromX0, convertPrediction } from './schedule';
export type { NestedScheduleOptions, MdmPrediction } from './schedule';
export { imagePyramid, mixedBatchSizes, parseRatio } from './pyramid';
export { nestedLoss } from './loss';
export type { NestedLoss, NestedLossOptions, NestedLossContext } from './loss';
export { nestedSampleSteps, nestedSample, nestedSampleAll, nestedTimesteps, thresholdX0 } from './sampler';
export type { NestedSamplerOptions, NestedSampleOptions, NestedSamplerEvent, MdmThreshold } from './sampler';
export { ProgressiveSchedule, initializeInner } from './progressive';
export type { ProgressiveStage, ProgressiveState } from './progressive';
