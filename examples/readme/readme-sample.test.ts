import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { readmeSample } from './readme-sample';

it("the README's code sample runs (tiny size, 2 steps) and samples finite images", () => {
  const images = readmeSample(() => tf.randomUniform([2, 8, 8, 1], -1, 1, 'float32', 3), 2, { img: 8, channels: 8 });
  expect(images.shape).toEqual([16, 8, 8, 1]);
  expect(images.isNaN().any().dataSync()[0]).toBe(0);
  images.dispose();
});
