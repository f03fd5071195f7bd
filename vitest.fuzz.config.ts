// `npm run test:fuzz`: the property-based fuzz suites (*.fuzz.test.ts), excluded from the default run.
import { defineConfig } from 'vitest/config';
import base from './vitest.config';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Replaces (not extends) the default include/exclude, which leave fuzz suites out.
    include: ['packages/*/test/**/*.fuzz.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 600_000,
  },
});
