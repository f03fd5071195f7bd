import { defineTransport, type Transport } from './transport';
import type { ScalarMath } from './scalar-math';
import { validate } from './errors';

/**
 * The built-in transports. The UCGM ones reproduce the reference's constant 1.57 for pi/2
 * (so TrigFlow never quite reaches gammaIn = 0 at t = 1); pass `{ halfPi: Math.PI / 2 }` for the
 * exact value.
 */
export interface TrigOptions {
  /** The constant used for pi/2. Default 1.57, as in the UCGM reference. */
  halfPi?: number;
}

const UCGM_HALF_PI = 1.57;

function halfPiOf(where: string, opts: TrigOptions): number {
  return validate(where).finite('halfPi', opts.halfPi ?? UCGM_HALF_PI, { gt: 0, max: Math.PI / 2 });
}

/** Rectified flow: x_t = t z + (1 - t) x, native output F = z - x (the velocity). t = 1 is noise. */
export function linearTransport(): Transport {
  return defineTransport({
    name: 'linear',
    alphaIn: (t) => t,
    gammaIn: (t, m) => m.sub(1, t),
    alphaTo: (t, m) => m.constant(t, 1),
    gammaTo: (t, m) => m.constant(t, -1),
    dAlphaIn: (t, m) => m.constant(t, 1),
    dGammaIn: (t, m) => m.constant(t, -1),
  });
}

/** Rectified flow with time reversed: x_t = (1 - t) z + t x, F = x - z. t = 1 is data. */
export function reLinearTransport(): Transport {
  return defineTransport({
    name: 'relinear',
    alphaIn: (t, m) => m.sub(1, t),
    gammaIn: (t) => t,
    alphaTo: (t, m) => m.constant(t, -1),
    gammaTo: (t, m) => m.constant(t, 1),
    dAlphaIn: (t, m) => m.constant(t, -1),
    dGammaIn: (t, m) => m.constant(t, 1),
  });
}

/** sCM's TrigFlow (sigma_d = 1): x_t = sin(ct) z + cos(ct) x, F = cos(ct) z - sin(ct) x, c = pi/2. */
export function trigFlowTransport(opts: TrigOptions = {}): Transport {
  const c = halfPiOf('trigFlowTransport', opts);
  return defineTransport({
    name: 'trigflow',
    alphaIn: (t, m) => m.sin(m.mul(t, c)),
    gammaIn: (t, m) => m.cos(m.mul(t, c)),
    alphaTo: (t, m) => m.cos(m.mul(t, c)),
    gammaTo: (t, m) => m.neg(m.sin(m.mul(t, c))),
    dAlphaIn: (t, m) => m.mul(m.cos(m.mul(t, c)), c),
    dGammaIn: (t, m) => m.mul(m.sin(m.mul(t, c)), -c),
  });
}

/** TrigLinear: trigonometric input mixing with the rectified-flow target F = z - x. */
export function trigLinearTransport(opts: TrigOptions = {}): Transport {
  const c = halfPiOf('trigLinearTransport', opts);
  return defineTransport({
    name: 'triglinear',
    alphaIn: (t, m) => m.sin(m.mul(t, c)),
    gammaIn: (t, m) => m.cos(m.mul(t, c)),
    alphaTo: (t, m) => m.constant(t, 1),
    gammaTo: (t, m) => m.constant(t, -1),
    dAlphaIn: (t, m) => m.mul(m.cos(m.mul(t, c)), c),
    dGammaIn: (t, m) => m.mul(m.sin(m.mul(t, c)), -c),
  });
}

/** UCGM's "Random" transport (a deliberately irregular one): alphaIn = sin(ct), gammaIn = 1 - t, F = z - (1 + e^{-5t}) x. */
export function randomTransport(opts: TrigOptions = {}): Transport {
  const c = halfPiOf('randomTransport', opts);
  return defineTransport({
    name: 'random',
    alphaIn: (t, m) => m.sin(m.mul(t, c)),
    gammaIn: (t, m) => m.sub(1, t),
    alphaTo: (t, m) => m.constant(t, 1),
    gammaTo: (t, m) => m.sub(-1, m.exp(m.mul(t, -5))),
    dAlphaIn: (t, m) => m.mul(m.cos(m.mul(t, c)), c),
    dGammaIn: (t, m) => m.constant(t, -1),
  });
}

/**
 * UCGM's EDM transport: sigma(t) = exp(4 (2.68 t - 1.59)) (ln sigma from -6.36 to 4.36), x_t is EDM's
 * c_in-scaled input with sigma_data = 0.5, and F is EDM's F_theta training target.
 */
export function ucgmEdmTransport(): Transport {
  const sigma = <T>(t: T, m: ScalarMath<T>) => m.exp(m.mul(m.sub(m.mul(t, 2.68), 1.59), 4));
  const norm = <T>(s: T, m: ScalarMath<T>) => m.sqrt(m.add(m.square(s), 0.25));
  return defineTransport({
    name: 'edm',
    alphaIn: (t, m) => {
      const s = sigma(t, m);
      return m.div(s, norm(s, m));
    },
    gammaIn: (t, m) => m.div(1, norm(sigma(t, m), m)),
    alphaTo: (t, m) => m.div(-0.5, norm(sigma(t, m), m)),
    gammaTo: (t, m) => {
      const s = sigma(t, m);
      return m.div(m.mul(s, 2), norm(s, m));
    },
    // d/dt of s/sqrt(s^2+q) = q s' / (s^2+q)^1.5 and of 1/sqrt(s^2+q) = -s s' / (s^2+q)^1.5, s' = 10.72 s.
    dAlphaIn: (t, m) => {
      const s = sigma(t, m);
      const n = norm(s, m);
      return m.div(m.mul(s, 0.25 * 10.72), m.mul(m.square(n), n));
    },
    dGammaIn: (t, m) => {
      const s = sigma(t, m);
      const n = norm(s, m);
      return m.div(m.mul(m.square(s), -10.72), m.mul(m.square(n), n));
    },
  });
}

/**
 * EDM / VE sigma space: t is the noise level sigma, x_t = x + sigma z, and the native output is
 * the denoised x0 (what an EDM-preconditioned network returns). t = 0 is data.
 */
export function sigmaTransport(opts: { sigmaMax?: number } = {}): Transport {
  const sigmaMax = validate('sigmaTransport').number('sigmaMax', opts.sigmaMax ?? Infinity, { gt: 0 });
  return defineTransport({
    name: 'sigma',
    alphaIn: (t) => t,
    gammaIn: (t, m) => m.constant(t, 1),
    alphaTo: (t, m) => m.constant(t, 0),
    gammaTo: (t, m) => m.constant(t, 1),
    dAlphaIn: (t, m) => m.constant(t, 1),
    dGammaIn: (t, m) => m.constant(t, 0),
    range: [0, sigmaMax],
  });
}

/**
 * Variance-preserving (EDM's VP / DDPM continuous): u(t) = betaD t^2/2 + betaMin t,
 * gammaIn = e^{-u/2}, alphaIn = sqrt(1 - e^{-u}); native output is the noise eps. t = 0 is data.
 */
export function vpTransport(opts: { betaD?: number; betaMin?: number } = {}): Transport {
  const check = validate('vpTransport');
  const betaD = check.finite('betaD', opts.betaD ?? 19.9, { gt: 0 });
  const betaMin = check.finite('betaMin', opts.betaMin ?? 0.1, { min: 0 });
  const u = <T>(t: T, m: ScalarMath<T>) => m.add(m.mul(m.square(t), betaD / 2), m.mul(t, betaMin));
  const du = <T>(t: T, m: ScalarMath<T>) => m.add(m.mul(t, betaD), betaMin);
  return defineTransport({
    name: 'vp',
    alphaIn: (t, m) => m.sqrt(m.sub(1, m.exp(m.neg(u(t, m))))),
    gammaIn: (t, m) => m.exp(m.mul(u(t, m), -0.5)),
    alphaTo: (t, m) => m.constant(t, 1),
    gammaTo: (t, m) => m.constant(t, 0),
    dAlphaIn: (t, m) => {
      const e = m.exp(m.neg(u(t, m)));
      return m.div(m.mul(du(t, m), e), m.mul(m.sqrt(m.sub(1, e)), 2));
    },
    dGammaIn: (t, m) => m.mul(m.mul(du(t, m), m.exp(m.mul(u(t, m), -0.5))), -0.5),
  });
}

/** Built-in transports by UCGM reference name (with the reference's 1.57 quirk). */
export function transportByName(name: string, opts: TrigOptions = {}): Transport {
  const check = validate('transportByName');
  if (typeof name !== 'string') check.fail('name', 'a transport name (string)', name);
  const key = check.oneOf('name', name.toLowerCase(), [
    'linear',
    'relinear',
    'trigflow',
    'triglinear',
    'random',
    'edm',
    'sigma',
    'vp',
  ] as const);
  switch (key) {
    case 'linear':
      return linearTransport();
    case 'relinear':
      return reLinearTransport();
    case 'trigflow':
      return trigFlowTransport(opts);
    case 'triglinear':
      return trigLinearTransport(opts);
    case 'random':
      return randomTransport(opts);
    case 'edm':
      return ucgmEdmTransport();
    case 'sigma':
      return sigmaTransport();
    case 'vp':
      return vpTransport();
  }
}
