import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, toTensor, useTestBackend } from '@fewstep/testing';
import { colorize, inpaint, interpolate, superResolve } from '@fewstep/samplers';
import { gaussConsistency, golden, goldenNoise } from './helpers';

beforeAll(useTestBackend);

/** The reference's inpainting mask: batch groups of 7, even groups know the letter's white pixels, odd its black ones. */
function letterMask(letter: tf.Tensor, batch: number): tf.Tensor {
  return tf.tidy(() => {
    const white = tf.greater(letter, 0.5).toFloat();
    const black = tf.less(letter, 0.5).toFloat();
    return tf.stack(Array.from({ length: batch }, (_, b) => (Math.floor(b / 7) % 2 === 0 ? white : black)));
  });
}

describe('zero-shot editing goldens (OpenAI CM iterative_*)', () => {
  for (const name of ['cm_edit_colorization', 'cm_edit_superres', 'cm_edit_inpainting']) {
    it(name, () => {
      const g = golden(name);
      const p = g.params;
      const before = tf.memory().numTensors;
      const images = toTensor(g.inputs.images);
      const x = toTensor(g.inputs.x_init);
      const noise = goldenNoise(g);
      const common = {
        network: gaussConsistency(p.mu, p.s, p.t_min),
        images,
        x,
        ts: p.ts,
        steps: p.steps,
        sigmaMin: p.t_min,
        sigmaMax: p.t_max,
        rho: p.rho,
        noise,
      };
      let mask: tf.Tensor | undefined;
      let out: { x: tf.Tensor; imagesRef: tf.Tensor };
      if (p.kind === 'colorization') out = colorize(common);
      else if (p.kind === 'superres') out = superResolve({ ...common, patchSize: 8 });
      else {
        const letter = toTensor(g.inputs.letter_image);
        mask = letterMask(letter, images.shape[0]);
        letter.dispose();
        out = inpaint({ ...common, mask });
      }
      expectGolden(g, 'x', out.x);
      expectGolden(g, 'images_ref', out.imagesRef);
      expect(noise.remaining()).toBe(0);
      tf.dispose([images, x, out.x, out.imagesRef, ...(mask ? [mask] : [])]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('cm_interpolation_slerp_onestep: slerp of latents + one-step decode', () => {
    const g = golden('cm_interpolation_slerp_onestep');
    const p = g.params;
    const before = tf.memory().numTensors;
    const z1 = toTensor(g.inputs.z1);
    const z2 = toTensor(g.inputs.z2);
    const { latents, x } = interpolate({
      z1,
      z2,
      alphas: g.inputs.t.data,
      network: gaussConsistency(p.mu, p.s, 0.002),
      sigmaMax: p.sigma_max,
    });
    expectGolden(g, 'z_interp', latents);
    expectGolden(g, 'x', x);
    tf.dispose([z1, z2, latents, x]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
