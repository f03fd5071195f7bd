import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate } from '@fewstep/core';

describe('validate', () => {
  const check = validate('demo');
  it('names the function, the argument, the expectation and the value', () => {
    expect(() => check.finite('sigmaMin', Number.NaN, { gt: 0 })).toThrowError(
      /^demo: sigmaMin must be a finite number > 0, got NaN$/,
    );
    expect(() => check.integer('n', 2.5, { min: 1 })).toThrowError(/n must be an integer >= 1, got 2.5/);
    expect(() => check.oneOf('mode', 'x', ['a', 'b'])).toThrowError(/mode must be one of "a", "b", got "x"/);
  });
  it('throws FewstepError carrying the argument name', () => {
    try {
      check.finite('rho', -1, { gt: 0 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FewstepError);
      expect((e as FewstepError).argument).toBe('rho');
      expect((e as FewstepError).where).toBe('demo');
    }
  });
  it('checks tensors by rank and shape', () => {
    const x = tf.zeros([2, 3]);
    expect(check.tensor('x', x, { rank: 2 })).toBe(x);
    expect(() => check.tensor('x', x, { rank: 4 })).toThrowError(/x must be a tensor of rank 4, got a float32 tensor of shape \[2, 3\]/);
    expect(() => check.shape('x', x, [2, null, 1])).toThrowError(/\[2, \*, 1\]/);
    expect(() => check.tensor('x', [1, 2])).toThrowError(/x must be a tensor, got \[1, 2\]/);
    x.dispose();
    expect(() => check.tensor('x', x)).toThrowError(/live/);
  });
});
