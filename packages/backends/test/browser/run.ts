// `npm run test:browser`: bundles suite.ts with esbuild, serves it from 127.0.0.1, runs it in headless
// Chromium (Debian's /usr/bin/chromium through playwright-core; no browser download) on webgl and
// webgpu, prints a table and exits non-zero on any mismatch, page error or missing backend.
// webgpu may be skipped (with its reason) only when Chromium offers no adapter; webgl is required.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { SuiteResult } from './suite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BACKENDS = (process.env.BROWSER_BACKENDS ?? 'webgl,webgpu').split(',');
const PAGE_TIMEOUT_MS = 150_000;
// The flags of ../shared/notes/tfjs-backends.md: SwiftShader for WebGL2 (ANGLE) and WebGPU (Dawn).
const ARGS = [
  '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--disable-dev-shm-usage', '--no-default-browser-check',
  '--disable-extensions', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
];

async function bundle(): Promise<string> {
  // Packages resolve to their sources, as in vitest: the suite never runs a stale dist/.
  const alias = Object.fromEntries(
    readdirSync(join(root, 'packages')).map((d) => [`@fewstep/${d}`, join(root, 'packages', d, 'src', 'index.ts')]),
  );
  const out = await build({
    entryPoints: [process.env.BROWSER_ENTRY ?? join(here, 'suite.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    alias,
    // Node-only optional imports inside tfjs / our packages: never reached in the page.
    external: ['node:*', 'fs', 'path', 'os', 'crypto', 'worker_threads', 'perf_hooks', 'url', 'module'],
    logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

function serve(js: string): Promise<{ server: Server; url: string }> {
  const html = '<!doctype html><meta charset="utf-8"><title>fewstep browser suite</title><link rel="icon" href="data:,"><script src="/suite.js"></script>';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const [type, body] = path === '/suite.js' ? ['text/javascript', js] : path === '/' ? ['text/html', html] : [null, ''];
    if (type === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    ok({ server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/` });
  }));
}

async function runBackend(url: string, backend: string): Promise<{ result?: SuiteResult; errors: string[]; ms: number }> {
  const profile = mkdtempSync(join(tmpdir(), 'fewstep-chromium-'));
  const errors: string[] = [];
  const t0 = Date.now();
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
      else if (process.env.BROWSER_VERBOSE) console.log(`  [${backend}] ${m.text()}`);
    });
    await page.goto(`${url}?backend=${backend}${process.env.BROWSER_STOCK === '1' ? '&stock=1' : ''}`);
    await page.waitForFunction(() => '__suite' in window || '__suiteError' in window, undefined, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
    const { result, error } = await page.evaluate(() => {
      const w = window as unknown as { __suite?: SuiteResult; __suiteError?: string };
      return { result: w.__suite, error: w.__suiteError };
    });
    if (error) errors.push(`suite error: ${error}`);
    return { result, errors, ms: Date.now() - t0 };
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

function fmt(r: number): string {
  return Number.isFinite(r) ? r.toExponential(1) : String(r);
}

async function main(): Promise<number> {
  if (!existsSync(CHROMIUM)) {
    console.error(`browser suite: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return 1;
  }
  const t0 = Date.now();
  const js = await bundle();
  console.log(`bundled suite.js: ${(js.length / 1e6).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const { server, url } = await serve(js);
  let failed = false;
  const rows: string[] = ['| backend | case | max rel. error vs cpu (output) | tolerance | ms | result |', '| --- | --- | --- | --- | --- | --- |'];
  try {
    for (const backend of BACKENDS) {
      let run: Awaited<ReturnType<typeof runBackend>>;
      try {
        run = await runBackend(url, backend);
      } catch (e) {
        run = { errors: [`runner: ${e instanceof Error ? e.message : String(e)}`], ms: 0 };
      }
      const r = run.result;
      console.log(`\n${backend}: ${((run.ms) / 1000).toFixed(1)} s in Chromium${r?.reason ? `; ${r.reason}` : ''}${r?.adapter ? `; adapter ${r.adapter}` : ''}`);
      if (r?.skipped && backend === 'webgpu' && run.errors.length === 0) {
        rows.push(`| ${backend} | (all) | skipped: ${r.skipped} | | | SKIP |`);
        continue;
      }
      if (!r || r.skipped || run.errors.length) {
        failed = true;
        rows.push(`| ${backend} | (all) | ${r?.skipped ?? 'no result'} | | | FAIL |`);
      }
      for (const c of r?.cases ?? []) {
        failed ||= !c.ok;
        rows.push(`| ${backend} | ${c.name} | ${fmt(c.relError)} (${c.worst}) | ${c.tol} | ${c.ms.toFixed(0)} | ${c.ok ? 'ok' : 'FAIL'} |`);
        if (c.error) console.log(`  ${c.name}: ${c.error}`);
      }
      if (r && r.leakedTensors !== 0) {
        failed = true;
        rows.push(`| ${backend} | tensors leaked | ${r.leakedTensors} | 0 | | FAIL |`);
      }
      for (const e of run.errors) console.log(`  ${e}`);
    }
  } finally {
    server.close();
  }
  console.log(`\n${rows.join('\n')}\n\nbrowser suite ${failed ? 'FAILED' : 'passed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
