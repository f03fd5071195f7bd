import * as tf from '@tensorflow/tfjs';
import { perSample, toPerSample } from './broadcast';
import { validate } from './errors';
import type { Network, NetworkOptions, RawNetwork } from './network';

/** The four preconditioning coefficients at a noise level: D = cSkip x + cOut F(cIn x, cNoise). */
export interface PrecondCoefficients<T> {
  cSkip: T;
  cOut: T;
  cIn: T;
  cNoise: T;
}

/**
 * A preconditioning of a raw network in EDM's sigma space (x_sigma = x + sigma z). Its
 * coefficients are evaluated on JS numbers (in float64) or on a per-sample tensor [B].
 */
export interface Preconditioning {
  readonly name: string;
  readonly sigmaData: number;
  /** Smallest / largest noise level the preconditioned network is defined for. */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  coefficients(sigma: number): PrecondCoefficients<number>;
  coefficients(sigma: tf.Tensor): PrecondCoefficients<tf.Tensor>;
}

type Coef = (s: number) => number;

// The references add 1e-44 in float32, where it is the denormal 9.8e-45: keep that exact value.
const TINY_F32 = Math.fround(1e-44);

function makePrecond(
  name: string,
  sigmaData: number,
  sigmaMin: number,
  sigmaMax: number,
  f: { cSkip: Coef; cOut: Coef; cIn: Coef; cNoise: Coef },
  tensorF: (s: tf.Tensor) => PrecondCoefficients<tf.Tensor>,
): Preconditioning {
  function coefficients(sigma: number): PrecondCoefficients<number>;
  function coefficients(sigma: tf.Tensor): PrecondCoefficients<tf.Tensor>;
  function coefficients(sigma: number | tf.Tensor): PrecondCoefficients<number> | PrecondCoefficients<tf.Tensor> {
    if (typeof sigma === 'number') {
      const check = validate(`${name}.coefficients`);
      check.number('sigma', sigma, { min: 0 });
      const c = { cSkip: f.cSkip(sigma), cOut: f.cOut(sigma), cIn: f.cIn(sigma), cNoise: f.cNoise(sigma) };
      // e.g. cNoise = ln(sigma)/4 at sigma = 0: the network would be asked about a -Infinity label.
      const bad = Object.entries(c).find(([, v]) => !Number.isFinite(v));
      if (bad) check.fail('sigma', `a noise level where every coefficient is finite (${bad[0]} = ${bad[1]})`, sigma);
      return c;
    }
    validate(`${name}.coefficients`).tensor('sigma', sigma, { rank: [0, 1] });
    return tf.tidy(() => tensorF(sigma.toFloat()) as unknown as tf.TensorContainerObject) as unknown as PrecondCoefficients<tf.Tensor>;
  }
  return { name, sigmaData, sigmaMin, sigmaMax, coefficients };
}

function sigmaDataOf(where: string, sd: number | undefined): number {
  return validate(where).finite('sigmaData', sd ?? 0.5, { gt: 0 });
}

/**
 * EDM (Karras et al. 2022): cSkip = sd^2/(s^2+sd^2), cOut = s sd/sqrt(s^2+sd^2), cIn = 1/sqrt(s^2+sd^2),
 * cNoise = ln(s)/4 (`noiseLabel: 'cm'` gives OpenAI CM's teacher label 250 ln(s + 1e-44) instead).
 */
export function edmPreconditioning(opts: { sigmaData?: number; noiseLabel?: 'edm' | 'cm' } = {}): Preconditioning {
  const sd = sigmaDataOf('edmPreconditioning', opts.sigmaData);
  const label = validate('edmPreconditioning').oneOf('noiseLabel', opts.noiseLabel ?? 'edm', ['edm', 'cm'] as const);
  const sd2 = sd * sd;
  return makePrecond(
    label === 'edm' ? 'edm' : 'edm-cm-noise',
    sd,
    0,
    Infinity,
    {
      cSkip: (s) => sd2 / (s * s + sd2),
      cOut: (s) => (s * sd) / Math.sqrt(s * s + sd2),
      cIn: (s) => 1 / Math.sqrt(s * s + sd2),
      cNoise: label === 'edm' ? (s) => Math.log(s) / 4 : (s) => 250 * Math.log(s + TINY_F32),
    },
    (s) => {
      const s2sd2 = s.square().add(sd2);
      return {
        cSkip: tf.div(sd2, s2sd2),
        cOut: s.mul(sd).div(s2sd2.sqrt()),
        cIn: tf.rsqrt(s2sd2),
        cNoise: label === 'edm' ? s.log().div(4) : s.add(1e-44).log().mul(250),
      };
    },
  );
}

/** EDM's VP preconditioning: cSkip = 1, cOut = -s, cIn = 1/sqrt(s^2+1), cNoise = (M-1) sigmaInv(s). */
export function vpPreconditioning(opts: { betaD?: number; betaMin?: number; M?: number; epsilonT?: number } = {}): Preconditioning {
  const check = validate('vpPreconditioning');
  const betaD = check.finite('betaD', opts.betaD ?? 19.9, { gt: 0 });
  const betaMin = check.finite('betaMin', opts.betaMin ?? 0.1, { min: 0 });
  const M = check.integer('M', opts.M ?? 1000, { min: 1 });
  const epsT = check.finite('epsilonT', opts.epsilonT ?? 1e-5, { gt: 0, lt: 1 });
  const sigmaAt = (t: number) => Math.sqrt(Math.exp(0.5 * betaD * t * t + betaMin * t) - 1);
  // The reference evaluates ln(1 + s^2) in float32 (not log1p), which shifts c_noise by up to ~1% at
  // tiny sigma; reproduce it so pretrained VP networks see the labels they were trained with.
  const sigmaInv = (s: number) =>
    (Math.sqrt(betaMin * betaMin + 2 * betaD * Math.log(Math.fround(1 + Math.fround(s * s)))) - betaMin) / betaD;
  return makePrecond(
    'vp',
    0.5,
    sigmaAt(epsT),
    sigmaAt(1),
    { cSkip: () => 1, cOut: (s) => -s, cIn: (s) => 1 / Math.sqrt(s * s + 1), cNoise: (s) => (M - 1) * sigmaInv(s) },
    (s) => ({
      cSkip: tf.onesLike(s),
      cOut: s.neg(),
      cIn: tf.rsqrt(s.square().add(1)),
      cNoise: tf
        .sqrt(tf.log(s.square().add(1)).mul(2 * betaD).add(betaMin * betaMin))
        .sub(betaMin)
        .div(betaD)
        .mul(M - 1),
    }),
  );
}

/** EDM's VE preconditioning: cSkip = 1, cOut = s, cIn = 1, cNoise = ln(s/2). */
export function vePreconditioning(opts: { sigmaMin?: number; sigmaMax?: number } = {}): Preconditioning {
  const check = validate('vePreconditioning');
  const lo = check.finite('sigmaMin', opts.sigmaMin ?? 0.02, { gt: 0 });
  const hi = check.finite('sigmaMax', opts.sigmaMax ?? 100, { gt: lo });
  return makePrecond(
    've',
    0.5,
    lo,
    hi,
    { cSkip: () => 1, cOut: (s) => s, cIn: () => 1, cNoise: (s) => Math.log(0.5 * s) },
    (s) => ({ cSkip: tf.onesLike(s), cOut: s.clone(), cIn: tf.onesLike(s), cNoise: s.mul(0.5).log() }),
  );
}

/**
 * The consistency-model boundary condition (Song et al. 2023): cSkip = sd^2/((s-smin)^2+sd^2),
 * cOut = (s-smin) sd/sqrt(s^2+sd^2) (the reference's denominator uses s, not s - smin), so that
 * f(x, sigmaMin) = x exactly. `noiseLabel`: 'cm' is OpenAI's 250 ln(s + 1e-44), 'edm' is ln(s)/4.
 */
export function consistencyPreconditioning(
  opts: { sigmaData?: number; sigmaMin?: number; sigmaMax?: number; noiseLabel?: 'cm' | 'edm' } = {},
): Preconditioning {
  const where = 'consistencyPreconditioning';
  const check = validate(where);
  const sd = sigmaDataOf(where, opts.sigmaData);
  const smin = check.finite('sigmaMin', opts.sigmaMin ?? 0.002, { gt: 0 });
  const smax = check.number('sigmaMax', opts.sigmaMax ?? 80, { gt: smin });
  const label = check.oneOf('noiseLabel', opts.noiseLabel ?? 'cm', ['cm', 'edm'] as const);
  const sd2 = sd * sd;
  const cNoise: Coef = label === 'cm' ? (s) => 250 * Math.log(s + TINY_F32) : (s) => Math.log(s) / 4;
  return makePrecond(
    label === 'cm' ? 'consistency' : 'consistency-edm-noise',
    sd,
    smin,
    smax,
    {
      cSkip: (s) => sd2 / ((s - smin) ** 2 + sd2),
      cOut: (s) => ((s - smin) * sd) / Math.sqrt(s * s + sd2),
      cIn: (s) => 1 / Math.sqrt(s * s + sd2),
      cNoise,
    },
    (s) => {
      const shifted = s.sub(smin);
      return {
        cSkip: tf.div(sd2, shifted.square().add(sd2)),
        cOut: shifted.mul(sd).div(s.square().add(sd2).sqrt()),
        cIn: tf.rsqrt(s.square().add(sd2)),
        // 1e-44 is a float32 denormal; backends that flush denormals give -inf at s = 0 (never sampled).
        cNoise: label === 'cm' ? s.add(1e-44).log().mul(250) : s.log().div(4),
      };
    },
  );
}

/**
 * ECT's ECMPrecond: EDM scalings in 'train' mode (the boundary condition is imposed by the loss),
 * consistency boundary scalings with sigmaMin = 0.003 in 'eval' mode; cNoise = ln(s)/4 in both.
 */
export function ectPreconditioning(
  opts: { sigmaData?: number; sigmaMin?: number; mode: 'train' | 'eval' },
): Preconditioning {
  const check = validate('ectPreconditioning');
  const mode = check.oneOf('mode', opts?.mode, ['train', 'eval'] as const);
  const sigmaMin = check.finite('sigmaMin', opts.sigmaMin ?? 0.003, { gt: 0 });
  if (mode === 'train') {
    const edm = edmPreconditioning({ sigmaData: opts.sigmaData });
    return { ...edm, name: 'ect-train', sigmaMin: 0 };
  }
  const cm = consistencyPreconditioning({ sigmaData: opts.sigmaData, sigmaMin, sigmaMax: Infinity, noiseLabel: 'edm' });
  return { ...cm, name: 'ect-eval' };
}

/**
 * Wraps a raw network as a denoiser D(x; sigma) = cSkip x + cOut F(cIn x, cNoise): the result is a
 * `Network` whose output is an x0 estimate in sigma space.
 */
export function precondition(raw: RawNetwork, pre: Preconditioning): Network {
  validate('precondition').fn('raw', raw);
  return (x: tf.Tensor, sigma: tf.Tensor, opts?: NetworkOptions) =>
    tf.tidy(() => {
      const check = validate(`precondition(${pre.name})`);
      check.tensor('x', x);
      // One sigma per sample; a 0-d sigma (as ECT's sampler passes) is broadcast to the batch.
      const c = pre.coefficients(toPerSample(sigma, x.shape[0], `precondition(${pre.name})`, 'sigma'));
      const F = raw(x.mul(perSample(c.cIn, x)), c.cNoise, opts);
      check.sameShape('x', x, 'raw network output', F);
      return x.mul(perSample(c.cSkip, x)).add(F.mul(perSample(c.cOut, x)));
    });
}
