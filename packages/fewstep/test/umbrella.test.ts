import { describe, expect, it } from 'vitest';
import * as fewstep from 'fewstep';
import * as core from '@fewstep/core';

describe('fewstep umbrella', () => {
  it('re-exports every public export of core', () => {
    for (const key of Object.keys(core)) expect((fewstep as Record<string, unknown>)[key], key).toBe((core as Record<string, unknown>)[key]);
  });
});
