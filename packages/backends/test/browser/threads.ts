// `npm run test:browser:threads`: threaded wasm in headless Chromium. Serves threads-page.ts
// (bundled) and the wasm binaries with COOP/COEP headers, so the page is cross-origin isolated
// and tfjs runs its threaded build; checks 2 threads, the gate installed (it fetches the .wasm
// from wasmPaths, and without them from the page's resource timing) and running calls threaded,
// a conv gradient equal to cpu's (1e-4) with threads for every op and under the gate, our SIMD
// fused GroupNorm + SiLU on the shared heap equal to cpu's composite (1e-4), and our SIMD
// kernels' worker (a blob-URL Worker on the same heap) started and used, with the GEMM of relaxed
// SIMD's multiply-add (Chromium's default).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const wasmDist = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

const js = (
  await build({
    entryPoints: [join(here, 'threads-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    alias: Object.fromEntries(readdirSync(join(root, 'packages')).map((d) => [`@fewstep/${d}`, join(root, 'packages', d, 'src', 'index.ts')])),
    external: ['node:*', 'fs', 'path', 'os', 'crypto', 'worker_threads', 'perf_hooks', 'url', 'module'],
    logLevel: 'error',
  })
).outputFiles[0].text;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const file = path.startsWith('/wasm/') ? join(wasmDist, path.slice(6).replace(/[^\w.-]/g, '')) : null;
  const [type, body] =
    path === '/' ? ['text/html', '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="/page.js"></script>']
    : path === '/page.js' ? ['text/javascript', js]
    : file !== null ? ['application/wasm', readFileSync(file)]
    : [null, ''];
  if (type === null) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': type, ...ISOLATED }).end(body);
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const port = (server.address() as { port: number }).port;
const profile = mkdtempSync(join(tmpdir(), 'fewstep-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--disable-extensions'],
});
let code = 1;
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => '__threads' in window || '__threadsError' in window, undefined, { timeout: 120_000 });
  const out = await page.evaluate(() => (window as unknown as { __threads?: unknown; __threadsError?: string }).__threads ?? (window as unknown as { __threadsError: string }).__threadsError);
  console.log(JSON.stringify(out, null, 2));
  const r = out as {
    isolated?: boolean; threads?: number; relError?: Record<string, number>; gated?: { threaded: number } | null;
    simdPool?: { active: boolean; withWorker: number } | null; relaxedSimd?: boolean;
    withoutWasmPaths?: { gated: { threaded: number } | null; relError: number };
  };
  const exact = Object.values(r.relError ?? { none: 1 }).every((e) => e < 1e-4) && r.relError?.groupNormSilu !== undefined;
  // Re-initialised without wasmPaths, the gate is still installed (it found the binary's URL).
  const found = (r.withoutWasmPaths?.gated?.threaded ?? 0) > 0 && (r.withoutWasmPaths?.relError ?? 1) < 1e-4;
  // Our SIMD kernels' worker ran (the filter gradient's GEMM, the big GroupNorm's passes).
  const pooled = r.simdPool?.active === true && r.simdPool.withWorker > 0;
  // Chromium has relaxed SIMD by default: the conv gradient above ran the fused GEMM.
  const fused = r.relaxedSimd === true;
  code = r.isolated === true && r.threads === 2 && exact && (r.gated?.threaded ?? 0) > 0 && found && pooled && fused ? 0 : 1;
  console.log(code === 0 ? 'browser threads: ok' : 'browser threads: FAILED');
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}
process.exit(code);
