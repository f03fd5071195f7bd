// The crash child needs only tfjs-core and the cpu backend; bundling just these halves its start.
export * from '@tensorflow/tfjs-core';
import * as cpu from '@tensorflow/tfjs-backend-cpu';
export const cpuBackend = cpu;
