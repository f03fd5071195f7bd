// `npm run test:fuzz`: >= 1000 property-based cases per package (FEWSTEP_FUZZ_RUNS overrides).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { fuzzPackage } from './harness';
import { SUITES } from './suites';

const RUNS = Number(process.env.FEWSTEP_FUZZ_RUNS ?? 1000);
// A new seed each run widens coverage over time; FEWSTEP_FUZZ_SEED replays a failing run.
const SEED = Number(process.env.FEWSTEP_FUZZ_SEED ?? (Date.now() % 2 ** 31));

beforeAll(async () => {
  await useTestBackend();
});

describe('fuzz: every call succeeds with finite outputs or throws FewstepError, leaking nothing', () => {
  for (const { pkg, cases, knownGaps } of SUITES) {
    it(`${pkg}: ${RUNS} cases over ${cases.length} functions`, () => {
      const report = fuzzPackage(cases, RUNS, { knownGaps, seed: SEED });
      console.log(`${pkg}: ${report.runs} cases (seed ${SEED}), ${report.ok} succeeded, ${report.rejected} FewstepError; tolerated known gaps: ${JSON.stringify(report.tolerated)}`);
      expect(report.ok + report.rejected).toBeGreaterThanOrEqual(RUNS - Object.values(report.tolerated).reduce((a, b) => a + b, 0));
      expect(Object.keys(report.perCase).length).toBe(cases.length);
    });
  }
});
