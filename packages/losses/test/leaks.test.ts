import { beforeAll } from 'vitest';
import { useTestBackend } from '@fewstep/testing';
import { leakSuite } from './leak-suite';

beforeAll(async () => {
  await useTestBackend();
});

leakSuite(process.env.FEWSTEP_TEST_BACKEND ?? 'cpu');
