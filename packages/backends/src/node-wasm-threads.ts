import * as tf from '@tensorflow/tfjs';

/**
 * Threaded wasm in Node. tfjs 4.22 switches its threaded SIMD build off in Node, and turning it
 * on is not enough, for three reasons this file works around, only while the backend initialises:
 *
 * 1. tfjs hands Emscripten the pthread worker as a `blob:` URL (`URL.createObjectURL`), which
 *    `worker_threads.Worker` cannot load. Emscripten's glue sets `global.Worker =
 *    worker_threads.Worker` on every factory call, so `globalThis.Worker` is made a property whose
 *    setter is ignored and whose getter returns a Worker subclass that starts `blob:` workers from
 *    the package's worker source with `eval: true` (that source already speaks worker_threads).
 * 2. Each worker is told to `importScripts` the main script, which tfjs passes as a Blob; the
 *    worker can only read files, so the 'load' message is given the glue file's path instead.
 * 3. The C++ side caps threads at `emscripten_num_logical_cores() / 2` (`os.cpus().length / 2` in
 *    Node, computed by a static initialiser): on 2 vCPUs the cap is 1. `os.cpus()` reports twice
 *    the asked thread count during init, so the cap is what the caller asked for.
 */

const THREADS_FLAG = 'WASM_HAS_MULTITHREAD_SUPPORT';

/** A WebAssembly module using shared memory and atomics (wasm-feature-detect's threads probe). */
const THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

type NodeRequire = (id: string) => unknown;
type WorkerCtor = new (src: string, opts?: { eval?: boolean }) => { postMessage(m: unknown, t?: unknown): void };
interface NodeOs { cpus: () => unknown[]; availableParallelism?: () => number }

/** The Emscripten module behind an initialised wasm backend (only what we use of it). */
export interface EmscriptenThreads {
  PThread?: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[] };
}

/** Node's `require`, made for this module or the working directory; null outside Node. */
export async function nodeRequire(): Promise<NodeRequire | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; cwd?: () => string } }).process;
  if (typeof proc?.versions?.node !== 'string') return null;
  try {
    const { createRequire } = await import(/* @vite-ignore */ 'node:module');
    const base = typeof __filename === 'string' ? __filename : `${proc.cwd?.() ?? '.'}/`;
    return createRequire(base) as NodeRequire;
  } catch {
    return null;
  }
}

/** Why this Node process cannot run threaded wasm, or null when it can. */
export async function nodeThreadsUnsupported(): Promise<string | null> {
  if (typeof SharedArrayBuffer !== 'function') return 'no SharedArrayBuffer';
  if (typeof Atomics !== 'object') return 'no Atomics';
  try {
    if (!WebAssembly.validate(THREADS_PROBE)) return 'WebAssembly threads (shared memory, atomics) not supported';
  } catch {
    return 'WebAssembly threads (shared memory, atomics) not supported';
  }
  const req = await nodeRequire();
  if (req === null) return 'not Node';
  try {
    req('node:worker_threads');
  } catch {
    return 'no worker_threads';
  }
  return null;
}

/** Logical cores Node may use (availableParallelism where the Node version has it). */
export async function nodeCores(): Promise<number> {
  const req = await nodeRequire();
  if (req === null) return 1;
  const os = req('node:os') as NodeOs;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * Runs `init` (which must initialise the wasm backend) with the threaded build enabled for
 * `threads` threads, then removes every patch, whether `init` succeeded or not.
 */
export async function withNodeWasmThreads<T>(threads: number, wasmDir: string, init: () => Promise<T>): Promise<T> {
  const req = await nodeRequire();
  if (req === null) throw new Error('threaded wasm in Node needs Node');
  const { Worker } = req('node:worker_threads') as { Worker: WorkerCtor };
  const os = req('node:os') as NodeOs;
  // The template literal's "\n" escapes are real newlines by now; tfjs re-escapes them the same way.
  const workerSource = (req(`${wasmDir}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as { wasmWorkerContents: string })
    .wasmWorkerContents.replace(/\n/g, '\\n');
  const glue = `${wasmDir}/wasm-out/tfjs-backend-wasm-threaded-simd.js`;

  class BlobUrlWorker extends Worker {
    constructor(src: string, opts?: { eval?: boolean }) {
      if (typeof src === 'string' && src.startsWith('blob:')) super(workerSource, { eval: true });
      else super(src, opts);
    }
    override postMessage(msg: unknown, transfer?: unknown): void {
      const m = msg as { cmd?: string; urlOrBlob?: unknown } | null;
      super.postMessage(m?.cmd === 'load' && typeof m.urlOrBlob !== 'string' ? { ...m, urlOrBlob: glue } : msg, transfer);
    }
  }

  const workerProp = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  const cpus = os.cpus;
  const flag = tf.env().getFlags()[THREADS_FLAG];
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => BlobUrlWorker, set: () => {} });
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpus.call(os)[0]);
  tf.env().set(THREADS_FLAG, true);
  try {
    return await init();
  } finally {
    if (workerProp !== undefined) Object.defineProperty(globalThis, 'Worker', workerProp);
    else delete (globalThis as { Worker?: unknown }).Worker;
    os.cpus = cpus;
    if (flag === undefined) tf.env().set(THREADS_FLAG, false);
    else tf.env().set(THREADS_FLAG, flag);
  }
}

/**
 * Lets Node exit while the wasm threads live: Emscripten refs a worker while it runs a pthread,
 * and XNNPACK's pool threads run until the backend is disposed.
 */
export function unrefWasmWorkers(module: EmscriptenThreads): number {
  const p = module.PThread;
  if (p === undefined) return 0;
  const all = [...p.runningWorkers, ...p.unusedWorkers];
  for (const w of all) w.unref();
  return all.length;
}

/**
 * Browsers: the same C++ cap (`navigator.hardwareConcurrency / 2`: a 2-core machine gets 1
 * thread). `navigator.hardwareConcurrency` reports twice the asked count while `init` runs.
 */
export async function withBrowserThreadCap<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) return init();
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
  try {
    return await init();
  } finally {
    if (own !== undefined) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}
