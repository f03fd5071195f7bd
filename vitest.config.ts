import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests import packages by name; resolve them to sources so a test never runs stale dist/.
const packages = readdirSync(resolve(__dirname, 'packages'));
const alias = Object.fromEntries(
  packages.map((dir) => [
    dir === 'fewstep' ? 'fewstep' : `@fewstep/${dir}`,
    resolve(__dirname, 'packages', dir, 'src', 'index.ts'),
  ]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.browser.test.ts', '**/*.slow.test.ts', '**/*.fuzz.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
