// The short fuzz run of the default suite: 50 cases per package under a fixed seed, so CI is
// reproducible (the full run, npm run test:fuzz, draws a new seed each time and prints it).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { fuzzPackage } from './fuzz/harness';
import { SUITES } from './fuzz/suites';

beforeAll(async () => {
  await useTestBackend();
});

describe('fuzz (short)', () => {
  for (const { pkg, cases, knownGaps } of SUITES) {
    it(`${pkg}: 50 cases`, () => {
      const report = fuzzPackage(cases, 50, { knownGaps, seed: 20261122 });
      expect(report.ok + report.rejected).toBeGreaterThan(0);
    });
  }
});
