/**
 * @fewstep/losses — the Loss contract, distance metrics, and the EDM, flow-matching, CT, iCT, CD,
 * ECT and UCGM-T losses. Losses take any network function and never import nn or samplers.
 */
export { reduceLoss, checkContext, forwardOptions, assertFiniteLoss, assertFiniteLossAsync, withFiniteCheck } from './contract';
export type { Loss, LossContext, LossResult, Reduction } from './contract';
export { withoutGradient, runWithoutGradient } from './gradient';
export {
  l2Distance,
  l1Distance,
  squaredL2SumDistance,
  resizedL2Distance,
  bilinearResize,
  pseudoHuberDistance,
  cosineDistance,
  resolveDistance,
} from './metrics';
export type { Distance, DistanceName, PseudoHuberOptions } from './metrics';
export { edmLoss } from './edm';
export type { EdmLossOptions } from './edm';
export { flowMatchingLoss } from './flow-matching';
export type { FlowMatchingOptions } from './flow-matching';
export { consistencyTrainingLoss, consistencyDistillationLoss } from './consistency';
export type { ConsistencyLoss, ConsistencyLossOptions, ConsistencyDistillationOptions } from './consistency';
export { ictLoss } from './ict';
export type { IctLoss, IctLossOptions } from './ict';
export { ectLoss } from './ect';
export type { EctLoss, EctLossOptions, EctStageSchedule } from './ect';
export { ucgmTrainer } from './ucgm';
export type { UcgmTrainer, UcgmOptions, UcgmState, UcgmTeacherWeights } from './ucgm';
