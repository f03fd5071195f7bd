import { validate } from '@fewstep/core';
import { cmMultistepSampler, oneStepSampler } from './consistency';
import { cmKarrasSampler, type CmKarrasOptions } from './karras';
import type { Sampler } from './types';

export type CmSamplerKind = 'heun' | 'dpm' | 'euler' | 'onestep' | 'multistep';

/**
 * OpenAI CM's karras_sample as one entry point: the diffusion samplers ('heun', 'dpm', 'euler'),
 * 'onestep' (x0 = f(x_T, sigmaMax)) and 'multistep' (stochastic_iterative_sampler over `ts`), all
 * with clip_denoised (default true) and the result clamped to [-1, 1], x_T = latents * sigmaMax.
 */
export function cmSampler(kind: CmSamplerKind, opts: CmKarrasOptions & { ts?: readonly number[] }): Sampler {
  const check = validate('cmSampler');
  check.oneOf('kind', kind, ['heun', 'dpm', 'euler', 'onestep', 'multistep'] as const);
  const clip = opts?.clipDenoised ?? true;
  if (kind === 'onestep') return oneStepSampler({ sigmaMax: opts?.sigmaMax, clipDenoised: clip, modifiers: opts?.modifiers });
  if (kind === 'multistep') {
    if (!opts?.ts) check.fail('ts', 'the multistep indices (e.g. [0, 22, 39])', opts?.ts);
    return cmMultistepSampler({ ...opts, ts: opts.ts!, clipDenoised: clip });
  }
  return cmKarrasSampler(kind, opts);
}
