// Page entry of the browser suite (bundled by run.ts with esbuild): runs every case on the
// backend named in the URL (?backend=webgl|webgpu[&stock=1]) and on cpu in the same page, compares them and
// leaves the results on `window.__suite`. Reads use `await data()` only: webgpu's dataSync is broken
// in headless Chromium.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { initBackend } from '@fewstep/backends';
import { CASES, type Case } from './cases';
import { trainingLoopCase } from './async-case';
import { relError } from '../rel-error';

export interface CaseResult {
  backend: string;
  name: string;
  /** Worst relative error over the case's outputs, and which output it was. */
  relError: number;
  worst: string;
  tol: number;
  ok: boolean;
  /** Wall time of the case on the backend under test (ms), cpu excluded. */
  ms: number;
  error?: string;
}

export interface SuiteResult {
  backend: string;
  /** Why the backend could not run (then `cases` is empty). */
  skipped?: string;
  reason?: string;
  adapter?: string;
  cases: CaseResult[];
  leakedTensors: number;
}


async function runOn(backend: string, c: Case): Promise<{ values: Record<string, Float32Array>; ms: number }> {
  if (!(await tf.setBackend(backend))) throw new Error(`setBackend(${backend}) failed`);
  await tf.ready();
  const t0 = performance.now();
  const out = c.runAsync ? await c.runAsync() : tf.tidy(() => c.run());
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) values[k] = Float32Array.from(await t.data());
  const ms = performance.now() - t0;
  tf.dispose(Object.values(out));
  return { values, ms };
}

async function compare(backend: string, c: Case): Promise<CaseResult> {
  const base = { backend, name: c.name, tol: c.tol };
  try {
    const got = await runOn(backend, c);
    const ref = await runOn('cpu', c);
    let worst = '';
    let err = 0;
    for (const [k, e] of Object.entries(ref.values)) {
      // Self-checks named "a-b" must be ~0: compare against the scale of the case's other outputs.
      const r = k.endsWith('-x') ? maxAbs(got.values[k]) : relError(got.values[k] ?? new Float32Array(), e);
      if (!(r <= err) || worst === '') [err, worst] = [r, k];
    }
    return { ...base, relError: err, worst, ok: err <= c.tol, ms: got.ms };
  } catch (e) {
    return { ...base, relError: Infinity, worst: '', ok: false, ms: 0, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  }
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => (Number.isNaN(v) ? Infinity : Math.max(m, Math.abs(v))), 0);

async function adapterName(): Promise<string | undefined> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } }).gpu;
  const a = await gpu?.requestAdapter();
  return a ? `${a.info?.vendor ?? '?'}/${a.info?.architecture ?? '?'}` : undefined;
}

async function main(): Promise<SuiteResult> {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'webgl';
  const result: SuiteResult = { backend, cases: [], leakedTensors: 0 };
  if (backend === 'webgpu') {
    result.adapter = await adapterName();
    if (result.adapter === undefined) return { ...result, skipped: 'navigator.gpu gave no adapter' };
  }
  try {
    // Registers our kernels and fixes for the backend under test (e.g. webgpu AddN with >= 8 inputs).
    // ?stock=1 (BROWSER_STOCK=1): stock tfjs kernels only, to show what our fixes change.
    const registerKernels = new URLSearchParams(location.search).get('stock') !== '1';
    result.reason = (await initBackend(backend as 'webgl' | 'webgpu', { registerKernels })).reason;
    await initBackend('cpu', { registerKernels });
  } catch (e) {
    return { ...result, skipped: e instanceof Error ? e.message : String(e) };
  }
  const before = tf.memory().numTensors;
  for (const c of [...CASES, trainingLoopCase]) {
    const r = await compare(backend, c);
    result.cases.push(r);
    console.log(`[suite] ${backend} ${c.name}: rel ${r.relError.toExponential(2)} (${r.worst}) ${r.ok ? 'ok' : 'FAIL'} ${r.error ?? ''}`);
  }
  result.leakedTensors = tf.memory().numTensors - before;
  return result;
}

const w = globalThis as unknown as { __suite?: SuiteResult; __suiteError?: string };
main().then(
  (r) => (w.__suite = r),
  (e) => (w.__suiteError = e instanceof Error ? `${e.message}\n${e.stack}` : String(e)),
);
