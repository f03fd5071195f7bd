import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';

/** OpenAI CM's loss weightings over snr = sigma^-2 (get_weightings). */
export type SnrWeighting = 'snr' | 'snr+1' | 'karras' | 'truncated-snr' | 'uniform';

export const SNR_WEIGHTINGS: readonly SnrWeighting[] = ['snr', 'snr+1', 'karras', 'truncated-snr', 'uniform'];

/** The weight per sample for noise levels sigma [B]: snr, snr + 1, snr + 1/sd^2 ('karras'), max(snr, 1), or 1. */
export function snrWeighting(kind: SnrWeighting, sigma: tf.Tensor, sigmaData = 0.5): tf.Tensor {
  const check = validate('snrWeighting');
  check.oneOf('kind', kind, SNR_WEIGHTINGS);
  check.tensor('sigma', sigma, { dtype: 'float32' });
  check.finite('sigmaData', sigmaData, { gt: 0 });
  return tf.tidy(() => {
    const snr = tf.pow(sigma, -2);
    switch (kind) {
      case 'snr':
        return snr;
      case 'snr+1':
        return tf.add(snr, 1);
      case 'karras':
        return tf.add(snr, 1 / sigmaData ** 2);
      case 'truncated-snr':
        return tf.maximum(snr, 1);
      case 'uniform':
        return tf.onesLike(sigma);
    }
  });
}
