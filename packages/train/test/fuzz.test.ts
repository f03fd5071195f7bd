// The short fuzz run of the default suite: 50 cases per package (the full run: npm run test:fuzz).
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
      const report = fuzzPackage(cases, 50, { knownGaps });
      expect(report.ok + report.rejected).toBeGreaterThan(0);
    });
  }
});
