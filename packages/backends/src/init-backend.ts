import * as tf from '@tensorflow/tfjs';
import { validate } from '@fewstep/core';
import { registerTrainingKernels } from './training-kernels';
import { activateWasm, applyThreadPolicy, configureWasm, enableRelaxedSimd, wasmThreads, type WasmPlan } from './wasm-setup';
import { GEMM_FUSED, gemmFunctions } from './simd/gemm-wat';

export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_NAMES)[number];

export interface InitBackendOptions {
  /** Register our training kernels and fixes for the chosen backend (default true). */
  registerKernels?: boolean;
  /** wasm: where the .wasm binaries are (a folder prefix or a file map); default: the npm package's dist/. */
  wasmPaths?: string | Record<string, string>;
  /**
   * wasm: threads to run. Default: 'auto' in Node, tfjs's own choice in browsers (the threaded
   * build where the page is cross-origin isolated). In Node, more than 1 runs the threaded SIMD
   * build through a worker_threads shim (1 with the reason where the platform cannot); 'auto':
   * min(4, cores). Pass 1 for the single-threaded build.
   */
  threads?: number | 'auto';
  /**
   * wasm with threads, Node: 'gate' (default): convs and matmuls of at least `threadMinFlops`
   * time themselves both ways per call signature and keep the faster; every other op runs
   * threaded while those find threads faster overall, else on one thread (under load, threads
   * made elementwise ops up to 15x slower here). 'stock' leaves tfjs's threading of every op.
   */
  threadPolicy?: 'gate' | 'stock';
  /** wasm with the gate: FLOPs under which a conv/matmul call is not timed (default 2e6). */
  threadMinFlops?: number;
  /** 'auto' only: the candidates, in order (default tensorflow, webgpu, webgl, wasm, cpu). */
  order?: readonly Exclude<BackendChoice, 'auto'>[];
  /**
   * wasm in Node: turn on V8's relaxed SIMD (`--experimental-wasm-relaxed-simd`, process-wide)
   * where the runtime does not have it by default (Node 20; Chromium and Node 22+ do), so that
   * our GEMM (the filter gradient, batched products) uses fused multiply-adds: 1.3-1.4x faster
   * here. Default false: a V8 flag is the caller's decision.
   */
  relaxedSimd?: boolean;
}

export interface BackendReport {
  /** The tfjs backend now active ('tensorflow', 'webgpu', 'webgl', 'wasm' or 'cpu'). */
  backend: string;
  /** Why it was chosen, and why each earlier candidate was not. */
  reason: string;
  /** Our kernels now registered for it. */
  kernelsRegistered: string[];
  /** wasm threads in use (1 elsewhere). */
  threads: number;
  /** wasm: whether the SIMD build runs. */
  simd?: boolean;
  /** wasm: which ops run threaded, or why there is one thread. */
  threadPolicy?: string;
  /** wasm: whether our GEMM runs relaxed SIMD's fused multiply-add (see `relaxedSimd`). */
  relaxedSimd?: boolean;
}

const DEFAULT_ORDER = ['tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

/** Imports an optional package by a name bundlers and type-checkers leave alone. */
async function importOptional(name: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ name);
    return true;
  } catch {
    return false;
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** The last wasm plan (threads asked, and why fewer) for the report. */
let wasmPlan: WasmPlan = { dir: null };

/** Tries one candidate; returns null on success or why it was skipped. */
async function tryCandidate(name: Exclude<BackendChoice, 'auto'>, opts: InitBackendOptions): Promise<string | null> {
  switch (name) {
    case 'tensorflow': {
      if (!isNode()) return 'tensorflow: needs Node';
      // Optional peers: their install downloads libtensorflow, so they are never required.
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        if ((await importOptional(pkg)) && (await activate('tensorflow'))) return null;
      }
      return 'tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed';
    }
    case 'webgpu': {
      const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
      if (gpu === undefined) return 'webgpu: no navigator.gpu';
      if (tf.findBackendFactory('webgpu') === null && !(await importOptional('@tensorflow/tfjs-backend-webgpu'))) {
        return 'webgpu: @tensorflow/tfjs-backend-webgpu is not installed';
      }
      return (await activate('webgpu')) ? null : 'webgpu: no adapter or device';
    }
    case 'webgl':
      if (isNode()) return 'webgl: needs a browser';
      return (await activate('webgl')) ? null : 'webgl: no WebGL context';
    case 'wasm':
      try {
        wasmPlan = await configureWasm(opts);
        return (await activateWasm(wasmPlan, () => activate('wasm'))) ? null : 'wasm: the module failed to initialise';
      } catch (e) {
        return `wasm: ${e instanceof Error ? e.message : String(e)}`;
      }
    case 'cpu':
      return (await activate('cpu')) ? null : 'cpu: failed to initialise';
  }
}

/**
 * Chooses, initialises and equips a tfjs backend. `'auto'` tries tensorflow (tfjs-node-gpu, then
 * tfjs-node, when installed), webgpu, webgl, wasm and cpu in that order as the platform allows
 * (in Node without the native binding that means wasm). Our training kernels and fixes are
 * registered for the chosen backend unless `registerKernels: false`.
 */
export async function initBackend(name: BackendChoice = 'auto', opts: InitBackendOptions = {}): Promise<BackendReport> {
  const check = validate('initBackend');
  check.oneOf('name', name, BACKEND_NAMES);
  if (opts.threads !== undefined && opts.threads !== 'auto') check.integer('threads', opts.threads, { min: 1 });
  if (opts.threadPolicy !== undefined) check.oneOf('threadPolicy', opts.threadPolicy, ['gate', 'stock'] as const);
  if (opts.threadMinFlops !== undefined && !(opts.threadMinFlops >= 0)) {
    check.fail('threadMinFlops', 'a number >= 0 (Infinity: never threaded)', opts.threadMinFlops);
  }
  if (opts.wasmPaths !== undefined && typeof opts.wasmPaths !== 'string' && (typeof opts.wasmPaths !== 'object' || opts.wasmPaths === null)) {
    check.fail('wasmPaths', 'a folder prefix or a map from .wasm file name to path', opts.wasmPaths);
  }
  if (opts.relaxedSimd !== undefined && typeof opts.relaxedSimd !== 'boolean') check.fail('relaxedSimd', 'a boolean', opts.relaxedSimd);
  const order = name === 'auto' ? (opts.order ?? DEFAULT_ORDER) : [name];
  order.forEach((o, i) => check.oneOf(`order[${i}]`, o, DEFAULT_ORDER));
  const skipped: string[] = [];
  for (const candidate of order) {
    const why = await tryCandidate(candidate, opts);
    if (why !== null) {
      skipped.push(why);
      continue;
    }
    return report(candidate, name, skipped, opts);
  }
  return check.fail('name', `a backend this platform can initialise`, `${name} (${skipped.join('; ')})`);
}

async function report(
  backend: string,
  asked: BackendChoice,
  skipped: string[],
  opts: InitBackendOptions,
): Promise<BackendReport> {
  const kernelsRegistered = opts.registerKernels === false ? [] : registerTrainingKernels(backend);
  const chosen = asked === 'auto' ? `auto chose ${backend}` : `${backend} as asked`;
  const out: BackendReport = {
    backend,
    reason: skipped.length ? `${chosen} (${skipped.join('; ')})` : chosen,
    kernelsRegistered,
    threads: backend === 'wasm' ? await wasmThreads() : 1,
  };
  if (backend === 'wasm') {
    out.simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    // Before anything asks which GEMM to run (the answer is kept for the process).
    if (opts.relaxedSimd === true) await enableRelaxedSimd();
    out.relaxedSimd = gemmFunctions() === GEMM_FUSED;
    // After our kernels are registered, so the gate wraps the kernels tfjs will run.
    out.threadPolicy = await applyThreadPolicy(wasmPlan, opts);
    if (wasmPlan.note !== undefined) out.reason += ` (${wasmPlan.note})`;
  }
  return out;
}
