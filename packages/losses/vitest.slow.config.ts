// The losses package's slow tests (2-D learning runs), excluded from the default suite.
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/losses/test/**/*.slow.test.ts'],
    exclude: ['**/node_modules/**'],
  },
});
