import * as tf from '@tensorflow/tfjs';
import { expect, test } from 'vitest';
import { KernelRunner } from '../src/kernel-runner';

test('an input passed straight through comes back with its own reference', async () => {
  await tf.setBackend('cpu');
  const x = tf.tensor([1, 2, 3]);
  const ids = tf.engine().backend.numDataIds();
  const info = KernelRunner.use(tf.backend(), 'cpu', () => x);
  const y = tf.engine().makeTensorFromTensorInfo(info);
  y.dispose();
  expect(x.isDisposed).toBe(false);
  expect(Array.from(x.dataSync())).toEqual([1, 2, 3]);
  x.dispose();
  expect(tf.engine().backend.numDataIds()).toBe(ids - 1);
});

test('intermediates are freed and the result kept', async () => {
  await tf.setBackend('cpu');
  const x = tf.tensor([[1, 2], [3, 4]]);
  const ids = tf.engine().backend.numDataIds();
  const info = KernelRunner.use(tf.backend(), 'cpu', (r) => r.transpose(r.reshape(r.run('Neg', { x }), [2, 2]), [1, 0]));
  expect(tf.engine().backend.numDataIds()).toBe(ids + 1);
  const y = tf.engine().makeTensorFromTensorInfo(info);
  expect(y.arraySync()).toEqual([[-1, -3], [-2, -4]]);
  tf.dispose([x, y]);
});

test('an unknown kernel is named in the error, and nothing leaks', async () => {
  await tf.setBackend('cpu');
  const x = tf.tensor([1]);
  const ids = tf.engine().backend.numDataIds();
  expect(() => KernelRunner.use(tf.backend(), 'cpu', (r) => r.run('NoSuchKernel', { x: r.run('Neg', { x }) }))).toThrow(
    /kernel NoSuchKernel is not registered for backend cpu/,
  );
  expect(tf.engine().backend.numDataIds()).toBe(ids);
  x.dispose();
});
