import { validate } from './errors';

/**
 * Matryoshka Diffusion's discrete noise schedules (apple/ml-mdm samplers.py), in JS doubles:
 * `gammas[i]` is alpha-bar (signal variance) at integer time i = 0..n, gammas[0] = 1 (clean).
 */
export type MdmScheduleType = 'cosine' | 'ddpm' | 'deepfloyd';

function cumprodOneMinus(betas: number[]): number[] {
  // gammas = exp(cumsum(log(1 - betas))), as the reference computes it.
  let acc = 0;
  return betas.map((b) => Math.exp((acc += Math.log(1 - b))));
}

/** The base schedule of n steps: n + 1 alpha-bar values, gammas[0] = 1. */
export function mdmGammas(type: MdmScheduleType, n: number, opts: { betaStart?: number; betaEnd?: number } = {}): number[] {
  const check = validate('mdmGammas');
  check.oneOf('type', type, ['cosine', 'ddpm', 'deepfloyd'] as const);
  check.size('n', n, 2);
  if (type === 'cosine') {
    // logsnr from +5 to -5: u = linspace(0, 1, n), logsnr = -2 ln tan(a u + b).
    const b = Math.atan(Math.exp(-0.5 * 5));
    const a = Math.atan(Math.exp(-0.5 * -5)) - b;
    const g = Array.from({ length: n }, (_, i) => {
      const u = i / (n - 1);
      const logsnr = -2 * Math.log(Math.tan(a * u + b));
      return 1 / (1 + Math.exp(-logsnr));
    });
    return [1, ...g];
  }
  if (type === 'ddpm') {
    const start = check.finite('betaStart', opts.betaStart ?? 1e-4, { gt: 0, lt: 1 });
    const end = check.finite('betaEnd', opts.betaEnd ?? 0.02, { gt: 0, lt: 1 });
    const betas = [0, ...Array.from({ length: n }, (_, i) => start + ((end - start) * i) / (n - 1))];
    return cumprodOneMinus(betas);
  }
  // DeepFloyd's squaredcos_cap_v2: abar(s) = cos((s + 0.008)/1.008 pi/2)^2, beta capped at 0.999.
  const abar = (s: number) => Math.cos(((s + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = [0, ...Array.from({ length: n }, (_, k) => Math.min(1 - abar((k + 1) / n) / abar(k / n), 0.999))];
  return cumprodOneMinus(betas);
}

/** VDM loss weights w[i] = SNR(i-1)/SNR(i) - 1 for i >= 2, with w[0] = w[1] = w[2]. */
export function vdmLossWeights(gammas: readonly number[]): number[] {
  const g = validate('vdmLossWeights').numbers('gammas', gammas as number[], { minLength: 3, min: 0, max: 1 });
  const w = g.map((gi, i) => (i < 2 ? 0 : (g[i - 1] * (1 - gi)) / ((1 - g[i - 1]) * gi) - 1));
  w[0] = w[2];
  w[1] = w[2];
  return w;
}

/**
 * MDM's resolution shift: for the resolution at `scale` (its side relative to the lowest resolution), SNR is divided
 * by scale^power (logSNR - power ln scale); scale 1 keeps the schedule and gamma = 1 stays 1.
 */
export function shiftGamma(gamma: number, scale: number, power = 1): number {
  const check = validate('shiftGamma');
  check.finite('gamma', gamma, { min: 0, max: 1 });
  check.finite('scale', scale, { min: 1 });
  check.finite('power', power, { min: 0 });
  if (scale === 1 || gamma === 1) return gamma;
  const snr = gamma / (1 - gamma) / scale ** power;
  return 1 / (1 + 1 / snr);
}
