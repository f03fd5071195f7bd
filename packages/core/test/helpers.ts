import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadGolden as load } from '@fewstep/testing';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const golden = (name: string) => load(FIXTURES, name);
