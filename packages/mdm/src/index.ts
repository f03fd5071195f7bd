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
export { UNet } from './unet';
export type { MdmForwardOptions, MultiResNetwork, UNetOptions, NestedResult } from './unet';
export { NestedUNet, normalizeByStd } from './nested-unet';
