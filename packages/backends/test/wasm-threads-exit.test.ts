import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { nodeThreadsUnsupported } from '../src/node-wasm-threads';

// Threaded wasm must not keep Node alive: each script inits 2 threads, runs a conv and ends; it
// must exit by itself, well within the timeout, with the conv's exact value.
const unsupported = await nodeThreadsUnsupported();
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const built = existsSync(`${root}packages/backends/dist/index.js`) && existsSync(`${root}packages/backends/dist/index.cjs`);
if (!built) console.info('[backends] packages/backends/dist not built (npm run build): the dist exit tests are skipped');

function run(args: string[]): { threads: number; y: number } {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 45_000 });
  expect(r.error, 'the script was killed at the timeout: something kept Node alive').toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);
}

// Sum of a same-padded 3x3 conv of ones: per axis 46 taps in all (14 positions x 3 + 2 borders x 2),
// times 16 input channels, 32 outputs and 4 images.
const Y = 46 * 46 * 16 * 32 * 4;

describe.skipIf(unsupported !== null)('a script using 2 wasm threads exits by itself', () => {
  test('from sources (tsx)', () => {
    expect(run(['--import', 'tsx', fixture('threads-exit.ts')])).toEqual({ threads: 2, y: Y });
  });
  test.skipIf(!built)('from the built package: ESM', () => {
    expect(run([fixture('threads-exit.mjs')])).toMatchObject({ threads: 2, y: Y });
  });
  test.skipIf(!built)('from the built package: CJS', () => {
    expect(run([fixture('threads-exit.cjs')])).toMatchObject({ threads: 2, y: Y });
  });
});
