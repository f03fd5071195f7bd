import * as tf from '@tensorflow/tfjs';
import type { InitBackendOptions } from './init-backend';
import { registeredKernels } from './registry';
import {
  nodeCores,
  nodeRequire,
  nodeThreadsUnsupported,
  unrefWasmWorkers,
  withBrowserThreadCap,
  withNodeWasmThreads,
  type EmscriptenThreads,
} from './node-wasm-threads';
import { DEFAULT_MIN_FLOPS, installThreadGate, type ThreadGate } from './wasm-thread-gate';
import { threadpoolAddress, ThreadSwitch } from './wasm-threadpool-address';
import { heapMemory, simdSupported } from './simd/instance';
import { GEMM_FUSED, gemmChosen } from './simd/gemm-wat';
import { assembleModule } from './simd/assemble';
import { defaultWorkerFactory, pooledFunctions, simdPoolFor, startSimdPool, type SimdPool } from './simd/pool';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasm: WasmModule | undefined;
let gate: ThreadGate | null = null;
const THREADED_BINARY = 'tfjs-backend-wasm-threaded-simd.wasm';
/** How long initBackend waits for our SIMD kernels' worker to start (~20-50 ms in Node). */
const POOL_START_MS = 2000;

/** Loads the wasm backend package (it registers the 'wasm' backend factory when first imported). */
export async function loadWasm(): Promise<WasmModule> {
  wasm ??= await import('@tensorflow/tfjs-backend-wasm');
  return wasm;
}

/** What `configureWasm` decided: the threads to ask for, and a note for the report. */
export interface WasmPlan {
  /** Threads to initialise with (undefined: tfjs's own default). */
  threads?: number;
  /** Node: the package folder (threads need its worker and glue files). */
  dir: string | null;
  /** Why fewer threads than asked, if so. */
  note?: string;
}

/**
 * Points the wasm backend at its binaries before it initialises: the caller's `wasmPaths`, or in
 * Node the package's own dist/ folder found by module resolution (so bundled or relocated code
 * still finds the .wasm files). Decides the thread count: in Node more than one needs the
 * worker_threads shim (node-wasm-threads.ts), and falls back to 1 with a note where it cannot run.
 */
export async function configureWasm(opts: InitBackendOptions): Promise<WasmPlan> {
  const mod = await loadWasm();
  const dir = await nodePackageDir('@tensorflow/tfjs-backend-wasm');
  if (opts.wasmPaths !== undefined) mod.setWasmPaths(opts.wasmPaths);
  else if (dir !== null) mod.setWasmPaths(`${dir}/dist/`);
  const plan: WasmPlan = { dir };
  // Node: threads by default (the gate keeps every op that would get slower on one thread).
  const threads = opts.threads ?? (dir !== null ? 'auto' : undefined);
  if (threads === undefined) return plan;
  if (dir === null) {
    // Browsers: tfjs runs threads where the page is cross-origin isolated ('auto': its default).
    if (threads !== 'auto') plan.threads = threads;
  } else {
    const asked = threads === 'auto' ? Math.min(4, await nodeCores()) : threads;
    const why = asked > 1 ? await nodeThreadsUnsupported() : null;
    plan.threads = why === null ? asked : 1;
    if (why !== null) plan.note = `1 thread, not ${asked}: ${why}`;
  }
  if (plan.threads !== undefined) mod.setThreadsCount(plan.threads);
  return plan;
}

/** Initialises the wasm backend as planned (threaded in Node through the shim); true on success. */
export async function activateWasm(plan: WasmPlan, activate: () => Promise<boolean>): Promise<boolean> {
  dropGate();
  const live = (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend> }).registry.wasm;
  if (live !== undefined && plan.threads !== undefined && (await wasmThreads()) !== plan.threads) {
    // A backend initialised with another thread count: start it afresh (disposing it ends its workers).
    const factory = tf.findBackendFactory('wasm');
    tf.removeBackend('wasm');
    if (factory !== null) tf.registerBackend('wasm', factory, 2);
  }
  if (plan.dir === null && plan.threads !== undefined && plan.threads > 1) return withBrowserThreadCap(plan.threads, activate);
  if (plan.dir === null || plan.threads === undefined || plan.threads < 2) {
    if (plan.dir !== null) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return activate();
  }
  const ok = await withNodeWasmThreads(plan.threads, plan.dir, activate);
  if (ok) unrefWasmWorkers(wasmModule() as EmscriptenThreads);
  return ok;
}

/**
 * Applies the thread policy to the active, threaded wasm backend: the gate (threads for big
 * conv/matmul calls timed faster with them, and for every other op while they pay) unless
 * `threadPolicy` is 'stock'. Returns a line for the report.
 */
export async function applyThreadPolicy(plan: WasmPlan, opts: InitBackendOptions): Promise<string> {
  const threads = await wasmThreads();
  if (threads < 2) return plan.note ?? '1 thread';
  if (opts.threadPolicy === 'stock') return `${threads} threads for every op (stock policy)${await startKernelPool(() => true)}`;
  const bytes = await threadedBinary(plan, opts);
  if (bytes === null && plan.dir === null) {
    return `${threads} threads for every op (stock policy: the gate reads the threaded .wasm file, and neither wasmPaths nor the page's resource timing gave its URL)`;
  }
  const sw = ThreadSwitch.create(wasmModule() as never, bytes === null ? null : threadpoolAddress(bytes));
  if (typeof sw === 'string') return `${threads} threads for every op (no gate: ${sw})`;
  const minFlops = opts.threadMinFlops ?? DEFAULT_MIN_FLOPS;
  // Our Conv2DBackpropInput is stride-1 / polyphase forward convs: the inner Conv2D calls choose.
  const composite = registeredKernels('wasm').filter((k) => k === tf.Conv2DBackpropInput);
  gate = installThreadGate(sw, 'wasm', minFlops, composite);
  const pool = await startKernelPool(() => sw.on);
  return `${threads} threads for conv/matmul (>= ${minFlops / 1e6} MFLOP) where timed faster; every other op threaded while those find threads faster overall, else 1 thread${pool}`;
}

/**
 * Starts the worker our own SIMD kernels share their work with (simd/pool.ts) on the threaded
 * heap; it runs while `wanted()` (the thread policy has the pool on). A clause for the report.
 */
async function startKernelPool(wanted: () => boolean): Promise<string> {
  const memory = heapMemory(tf.findBackend('wasm'));
  if (memory === null || !(memory.buffer instanceof SharedArrayBuffer) || !pooledFunctions().every((f) => simdSupported(f))) return '';
  const start = await defaultWorkerFactory();
  if (start === null) return '';
  let pool: SimdPool;
  try {
    pool = startSimdPool(memory, pooledFunctions(), start, wanted);
  } catch (e) {
    return `; our SIMD kernels on 1 thread (their worker did not start: ${(e as Error).message})`;
  }
  if (!(await pool.started(POOL_START_MS))) return `; our SIMD kernels on 1 thread until their worker starts (not within ${POOL_START_MS} ms)`;
  return '; our SIMD kernels share their work with a worker of their own';
}

/**
 * Node: V8's relaxed SIMD on (process-wide) where wasm does not validate it yet. Our modules are
 * validated afterwards, so a runtime that refuses the flag leaves the plain GEMM in use.
 */
export async function enableRelaxedSimd(): Promise<void> {
  // Validated directly: simdSupported() keeps its first answer, which must come after the flag.
  if (gemmChosen() || WebAssembly.validate(assembleModule({ functions: GEMM_FUSED, sharedMemory: false }))) return;
  const req = await nodeRequire();
  (req?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined)?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
}

/**
 * The worker our own SIMD kernels share their work with on the threaded wasm heap (the filter
 * gradient's GEMM, batched products, the fused GroupNorm's passes), or null where none started:
 * `active()` says whether runs use it now, `runs` counts runs with it and on the main thread alone.
 */
export function wasmSimdPool(): Pick<SimdPool, 'threads' | 'active' | 'runs'> | null {
  const backend = tf.findBackend('wasm');
  return backend === null ? null : simdPoolFor(heapMemory(backend));
}

/** The thread gate of the active wasm backend, or null where none is installed. */
export function wasmThreadGate(): ThreadGate | null {
  return gate;
}

function dropGate(): void {
  gate?.uninstall();
  gate = null;
}

/** wasm threads actually in use by the initialised backend. */
export async function wasmThreads(): Promise<number> {
  const mod = await loadWasm();
  try {
    return Math.max(1, mod.getThreadsCount());
  } catch {
    return 1; // not initialised
  }
}

function wasmModule(): unknown {
  return (tf.engine().registry.wasm as unknown as { wasm: unknown }).wasm;
}

/**
 * The threaded .wasm file's bytes: Node reads the file; a browser fetches it from `wasmPaths`
 * (the browser's cache already holds it from the backend's own load). Null where unknown.
 */
async function threadedBinary(plan: WasmPlan, opts: InitBackendOptions): Promise<Uint8Array | null> {
  const paths = opts.wasmPaths;
  const named = typeof paths === 'string' ? `${paths}${THREADED_BINARY}` : paths?.[THREADED_BINARY];
  const file = named ?? (plan.dir === null ? loadedBinaryUrl() : `${plan.dir}/dist/${THREADED_BINARY}`);
  if (file === null) return null;
  try {
    const req = await nodeRequire();
    if (req !== null) return (req('node:fs') as { readFileSync: (p: string) => Uint8Array }).readFileSync(file);
    const res = await fetch(file);
    return res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

/**
 * In a browser without `wasmPaths`: the URL tfjs loaded the threaded binary from, as the page's
 * resource timing recorded it (fetching it again hits the browser's cache).
 */
function loadedBinaryUrl(): string | null {
  const perf = (globalThis as { performance?: { getEntriesByType?: (t: string) => { name: string }[] } }).performance;
  const entries = typeof perf?.getEntriesByType === 'function' ? perf.getEntriesByType('resource') : [];
  const hit = entries.filter((e) => e.name.split('?')[0].endsWith(`/${THREADED_BINARY}`)).pop();
  return hit?.name ?? null;
}

async function nodePackageDir(name: string): Promise<string | null> {
  const req = await nodeRequire();
  if (req === null) return null;
  try {
    const { dirname } = req('node:path') as { dirname: (p: string) => string };
    return dirname((req as unknown as { resolve: (id: string) => string }).resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}
