// One shared build: ESM + CJS + .d.ts for every package under packages/ that has src/index.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Options } from 'tsup';

const root = 'packages';
const packages = readdirSync(root).filter((dir) => existsSync(join(root, dir, 'src', 'index.ts')));

export default defineConfig(
  packages.map((dir): Options => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    const external = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      /^@tensorflow\//,
      /^@fewstep\//,
    ];
    return {
      name: pkg.name,
      entry: { index: join(root, dir, 'src', 'index.ts') },
      outDir: join(root, dir, 'dist'),
      format: ['esm', 'cjs'],
      // Types of sibling packages resolve to their sources, so packages build in any order.
      dts: {
        compilerOptions: {
          composite: false,
          baseUrl: '.',
          paths: { '@fewstep/*': ['packages/*/src/index.ts'], fewstep: ['packages/fewstep/src/index.ts'] },
        },
      },
      sourcemap: true,
      clean: true,
      target: 'es2022',
      platform: 'neutral',
      external,
      tsconfig: 'tsconfig.base.json',
      silent: true,
    };
  }),
);
