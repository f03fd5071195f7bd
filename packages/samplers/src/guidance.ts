import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate, type NetworkOptions } from '@fewstep/core';
import type { Modifier } from './types';

export interface GuidanceOptions {
  /** Guidance scale w: estimate = uncond + w (cond - uncond); 1 is the conditional model alone. */
  scale: number;
  /** The class index meaning "no class" (e.g. numClasses), used for the unconditional half. */
  nullClass?: number;
  /** Or the unconditional network options themselves (e.g. `{ cond: emptyTextEmbedding }`), batch B. */
  uncond?: NetworkOptions;
  /** Guide only where interval[0] <= t <= interval[1] (UCGM's cfg_interval); elsewhere one conditional call. */
  interval?: [number, number];
}

const COND_KEYS = ['classLabels', 'augmentLabels', 'cond'] as const;

/**
 * Classifier-free guidance as a modifier: one network call on the doubled batch [x; x] with
 * [cond; uncond] conditioning, then xHat and zHat = uncond + scale (cond - uncond) (both estimates
 * are linear in the network output, so guiding them equals guiding the output).
 */
export function classifierFreeGuidance(opts: GuidanceOptions): Modifier {
  const check = validate('classifierFreeGuidance');
  const scale = check.finite('scale', opts?.scale);
  if (opts.nullClass === undefined && opts.uncond === undefined) {
    check.fail('nullClass', 'a class index (or pass uncond network options)', opts.nullClass);
  }
  if (opts.nullClass !== undefined) check.integer('nullClass', opts.nullClass, { min: 0 });
  const interval = opts.interval ?? [-Infinity, Infinity];
  check.check(Array.isArray(interval) && interval.length === 2 && interval[0] <= interval[1], 'interval', 'a pair [lo, hi] with lo <= hi', interval);
  return {
    name: `cfg(${scale})`,
    wrap: (inner) => (x, t, networkOptions) => {
      const where = 'classifierFreeGuidance';
      const condKeys = COND_KEYS.filter((k) => networkOptions?.[k] !== undefined);
      if (condKeys.length === 0) {
        throw new FewstepError(
          where,
          'guidance needs a conditional network: pass networkOptions.classLabels (or cond / augmentLabels) to the sampler, got none',
          'networkOptions',
        );
      }
      if (t < interval[0] || t > interval[1]) return inner(x, t, networkOptions);
      const B = x.shape[0];
      return tf.tidy(() => {
        const doubled: NetworkOptions = { ...networkOptions };
        for (const k of condKeys) {
          const c = networkOptions![k]!;
          let u = opts.uncond?.[k];
          if (u === undefined && k === 'classLabels' && opts.nullClass !== undefined) {
            u = c.rank === 1 ? tf.fill([B], opts.nullClass, c.dtype) : tf.oneHot(tf.fill([B], opts.nullClass, 'int32'), c.shape[1] ?? 1).cast(c.dtype);
          }
          if (u === undefined) {
            throw new FewstepError(where, `no unconditional value for networkOptions.${k}: pass it in uncond`, 'uncond');
          }
          validate(where).sameShape(`networkOptions.${k}`, c, `uncond.${k}`, u);
          doubled[k] = tf.concat([c, u], 0);
        }
        const e = inner(tf.concat([x, x], 0), t, doubled);
        const [xc, xu] = tf.split(e.xHat, [B, B], 0);
        const [zc, zu] = tf.split(e.zHat, [B, B], 0);
        const guide = (c: tf.Tensor, u: tf.Tensor) => tf.add(u, tf.mul(tf.sub(c, u), scale));
        return { xHat: guide(xc, xu), zHat: guide(zc, zu) };
      });
    },
  };
}
