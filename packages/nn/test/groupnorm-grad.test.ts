import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@fewstep/backends';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL } from '@fewstep/core';
import { GroupNorm } from '@fewstep/nn';
import { expectNoLeak } from '@fewstep/testing';

/** The textbook GroupNorm, differentiated by tfjs (what GroupNorm.forward computed before its hand-written gradient). */
function reference(gn: GroupNorm, x: tf.Tensor): tf.Tensor {
  const G = gn.numGroups;
  const grouped = x.reshape([x.shape[0], -1, G, gn.numChannels / G]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normed = grouped.sub(mean).mul(tf.rsqrt(variance.add(gn.eps))).reshape(x.shape);
  return normed.mul(gn.weight).add(gn.bias);
}

function relErr(a: tf.Tensor, e: tf.Tensor): number {
  const av = a.dataSync();
  const ev = e.dataSync();
  let num = 0;
  let den = 0;
  for (let i = 0; i < ev.length; i++) {
    num = Math.max(num, Math.abs(av[i] - ev[i]));
    den = Math.max(den, Math.abs(ev[i]));
  }
  return num / (den + 1e-12);
}

/** y, and the gradients (x, weight, bias) of sum(y * r), for GroupNorm.forward or the reference form. */
function valueAndGrads(gn: GroupNorm, x: tf.Tensor, r: tf.Tensor, fwd: (x: tf.Tensor) => tf.Tensor): tf.Tensor[] {
  const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(fwd(xi), r)))(x);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(fwd(x), r)) as tf.Scalar, [gn.weight, gn.bias]);
  return [fwd(x), dx, grads[gn.weight.name], grads[gn.bias.name]];
}

describe.each(['cpu', 'wasm'])('GroupNorm (+ SiLU): hand-written or fused gradient = autodiff of the textbook form (%s)', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await initBackend('wasm');
    await tf.setBackend(backend);
    tf.env().set('IS_TEST', true); // tfjs's per-kernel leak check, which custom ops can trip
  });
  afterAll(async () => {
    tf.env().set('IS_TEST', false);
    await tf.setBackend('cpu');
  });
  const cases: [string, number[], number, number][] = [
    ['[2, 5, 3, 16], 4 groups', [2, 5, 3, 16], 32, 1e-5],
    ['[3, 4, 4, 8], 2 groups, eps 1e-6', [3, 4, 4, 8], 2, 1e-6],
    ['[4, 6] (rank 2), 2 groups', [4, 6], 2, 1e-5],
    ['[2, 7, 12] (rank 3), offset data', [2, 7, 12], 3, 1e-5],
  ];
  const withSilu = cases.flatMap(([name, ...rest]) => [false, true].map((silu) => [`${name}${silu ? ', + SiLU' : ''}`, ...rest, silu] as const));
  it.each(withSilu)('%s: forward and gradients to 1e-5 relative, no leaks', async (_, shape, numGroups, eps, silu) => {
    const gn = new GroupNorm(shape[shape.length - 1], { numGroups, minChannelsPerGroup: 1, eps });
    // Non-trivial affine parameters and an input with a channel-dependent offset.
    gn.weight.assign(tf.randomUniform([gn.numChannels], 0.5, 1.5, 'float32', 3));
    gn.bias.assign(tf.randomUniform([gn.numChannels], -0.5, 0.5, 'float32', 4));
    const x = tf.tidy(() => tf.randomNormal(shape, 0, 2, 'float32', 1).add(tf.linspace(-3, 3, gn.numChannels)));
    const r = tf.randomNormal(shape, 0, 1, 'float32', 2);
    const forward = (xi: tf.Tensor) => gn.forward(xi, { silu });
    const textbook = (xi: tf.Tensor) => (silu ? tf.tidy(() => reference(gn, xi).mul(tf.sigmoid(reference(gn, xi)))) : reference(gn, xi));
    const ours = tf.tidy(() => valueAndGrads(gn, x, r, forward));
    const ref = tf.tidy(() => valueAndGrads(gn, x, r, textbook));
    // wasm (initBackend registers @fewstep/backends' kernels) runs the fused kernel, cpu the composite.
    const { kernelNames } = await tf.profile(() => tf.tidy(() => valueAndGrads(gn, x, r, forward)));
    expect(kernelNames.includes(GROUP_NORM_KERNEL) && kernelNames.includes(GROUP_NORM_GRAD_KERNEL)).toBe(backend === 'wasm');
    ['y', 'dx', 'dweight', 'dbias'].forEach((name, i) => {
      expect(ours[i].shape, name).toEqual(ref[i].shape);
      expect(relErr(ours[i], ref[i]), name).toBeLessThan(1e-5);
    });
    await expectNoLeak(() => {
      tf.dispose(tf.tidy(() => valueAndGrads(gn, x, r, forward)));
    });
    tf.dispose([...ours, ...ref, x, r]);
    gn.dispose();
  });
});

describe('GroupNorm.forward options', () => {
  it('a silu that is not a boolean is a FewstepError naming opts.silu', () => {
    const gn = new GroupNorm(8);
    const x = tf.zeros([2, 4, 4, 8]);
    expect(() => gn.forward(x, { silu: 'yes' as unknown as boolean })).toThrow(/GroupNorm\.forward: opts\.silu must be a boolean, got/);
    tf.dispose(x);
    gn.dispose();
  });
});
