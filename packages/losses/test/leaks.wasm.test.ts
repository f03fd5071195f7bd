import { beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { leakSuite } from './leak-suite';

beforeAll(async () => {
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('wasm backend failed to initialise');
  await tf.ready();
});

leakSuite('wasm');
