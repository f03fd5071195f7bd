export { frechetDistance, frechetDistanceFromStatistics, featureStatistics } from './frechet';
export type { FeatureStatistics } from './frechet';
export type { FeatureSet } from './features';
export { readFeatures } from './features';
export { symmetricEigen, sqrtPsd, meanAndCovariance } from './linalg';
export { mmdUnbiased } from './mmd';
export type { MmdOptions } from './mmd';
export { slicedWasserstein, wasserstein1dPow, randomDirections } from './sliced';
export type { SlicedWassersteinOptions } from './sliced';
export { crc32, adler32, zlibStored, inflateStored } from './zlib';
export { encodePng, decodePng } from './png';
export type { RasterImage, PngOptions } from './png';
export { imageGrid, imageGridAsync, imageGridPng, imageGridPngAsync } from './grid';
export type { GridOptions } from './grid';
export { lineChartSvg, chartLayout, niceTicks } from './chart';
export type { Series, ChartOptions, ChartLayout } from './chart';
export { lineChartPng, lineChartRaster } from './chart-png';
export { writeOutput } from './files';
export {
  createMnistClassifier,
  mnistFeatures,
  mnistFrechetDistance,
  mnistFrechetDistanceAsync,
  classifierAccuracy,
  classifierAccuracyAsync,
  trainMnistClassifier,
  trainMnistClassifierAsync,
  saveClassifierWeights,
  saveClassifierWeightsAsync,
  loadClassifierWeights,
  FEATURE_LAYER,
} from './classifier';
export type { MnistClassifierOptions, TrainClassifierOptions } from './classifier';
