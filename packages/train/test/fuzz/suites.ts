/** The three package suites and the documented gaps they tolerate (see docs/reliability.md). */
import { coreCases } from './core-cases';
import type { FuzzCase, KnownGap } from './harness';
import { lossesCases } from './losses-cases';
import { samplersCases } from './samplers-cases';

/** A per-sample time tensor of zeros (a scalar t = 0 is rejected with a FewstepError instead). */
const isZeroTimeTensor = (args: any) => {
  const t = Array.isArray(args) ? args[args.length - 1] : undefined;
  return t?.fill === 'zero';
};

export const SUITES: { pkg: string; cases: FuzzCase[]; knownGaps: KnownGap[] }[] = [
  {
    pkg: '@fewstep/core',
    cases: coreCases,
    knownGaps: [
      {
        // Documented: checking a per-sample time tensor for the singular endpoint would sync the
        // device on every network call; a scalar time is checked and rejected.
        note: 'core recoverEstimates / Predictor.predict with a per-sample time tensor at exactly t = 0 (x0/v/flow parameterisations): zHat = (xt - gammaIn out) / alphaIn(0) is NaN',
        matches: (c, p, a) => (c === 'recoverEstimates' || c === 'createPredictor.predict') && p.startsWith('silent non-finite') && isZeroTimeTensor(a),
      },
    ],
  },
  {
    pkg: '@fewstep/losses',
    cases: lossesCases,
    knownGaps: [],
  },
  {
    pkg: '@fewstep/samplers',
    cases: samplersCases,
    knownGaps: [],
  },
];
