import { assembleModule, type WatFunction } from './assemble';
import { heapMemory, simdKernelsOn } from './instance';
import { gemmFunctions } from './gemm-wat';
import { GROUP_NORM_PASSES } from './group-norm-wat';
import { nodeRequire } from '../node-wasm-threads';

/** The function sets our kernels run on the pool (the GEMM this platform runs: fused or plain). */
export function pooledFunctions(): readonly (readonly WatFunction[])[] {
  return [gemmFunctions(), GROUP_NORM_PASSES];
}

/**
 * A second thread for our SIMD kernels on threaded wasm's shared heap. XNNPACK's own pool (the
 * one tfjs's convs and products run on) cannot run our code, so our kernels get a worker of
 * their own: it instantiates the same modules over the same memory and sleeps in Atomics.wait
 * until the main thread posts a list of calls in a shared control block. Both threads then run
 * their share and the main thread waits for the worker's. Only one side runs at a time with
 * XNNPACK's pool (the main thread drives both, one op after another), so the two never compete.
 */
export interface SimdPool {
  /** Threads a run() uses: this one and the worker. */
  readonly threads: number;
  /** Whether runs use the worker now (it has started, and the caller's policy wants threads). */
  active(): boolean;
  /**
   * Resolves once the worker has started (true), or after `timeoutMs` (false). A browser starts
   * a worker only while the page yields to its event loop: initBackend awaits this.
   */
  started(timeoutMs: number): Promise<boolean>;
  /**
   * Runs fn(...calls[i]) for every i: calls before `split` on this thread, the rest on the
   * worker (this thread alone when the pool is not active). Returns when all have run. `more`:
   * another run follows at once (the worker then waits for it awake).
   */
  run(functions: readonly WatFunction[], fn: string, calls: readonly (readonly number[])[], split: number, more?: boolean): void;
  /** Runs so far that used the worker, and that ran on this thread alone. */
  readonly runs: { withWorker: number; alone: number };
  /** Stops the worker. */
  close(): void;
}

// Control block (Int32Array): the job's sequence number, the worker's last finished one, its
// state, the job (function set, function, calls, arguments per call), then the arguments.
const SEQ = 0;
const DONE = 1;
const STATE = 2;
const SET = 3;
const FN = 4;
const COUNT = 5;
const ARGC = 6;
const FAILED = 7;
const MORE = 8;
const ARGS = 9;
const CONTROL_INTS = 1 << 16;
const READY = 1;
/** How long each side spins for the other before it sleeps in Atomics.wait. */
const SPIN_MS = 0.2;
const CLOSED = -1;

/**
 * The worker: CommonJS for Node's worker_threads (eval) and a classic script for a browser Worker.
 * It gets the memory, the modules and the control block once, then serves jobs until closed.
 */
const WORKER_SOURCE = `
const start = ({ memory, modules, names, control }) => {
  const c = new Int32Array(control);
  const sets = modules.map((bytes) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports);
  // Read before announcing READY: no job is posted before it, so none is missed.
  let seen = Atomics.load(c, ${SEQ});
  Atomics.store(c, ${STATE}, ${READY});
  for (;;) {
    // When the last job said more would follow (a kernel's passes come microseconds apart, and
    // waking from Atomics.wait takes ~0.1 ms here), spin a little before sleeping. Never after
    // a kernel's last job: a spinning worker would take a core from XNNPACK's next op.
    if (c[${MORE}] === 1) {
      const until = performance.now() + ${SPIN_MS};
      while (Atomics.load(c, ${SEQ}) === seen && performance.now() < until);
    }
    Atomics.wait(c, ${SEQ}, seen);
    seen = Atomics.load(c, ${SEQ});
    if (Atomics.load(c, ${STATE}) === ${CLOSED}) return;
    try {
      const f = sets[c[${SET}]][names[c[${SET}]][c[${FN}]]];
      const argc = c[${ARGC}];
      for (let i = 0, o = ${ARGS}; i < c[${COUNT}]; i++, o += argc) f(...c.subarray(o, o + argc));
    } catch {
      Atomics.store(c, ${FAILED}, 1); // a trap: the main thread throws for it
    }
    Atomics.store(c, ${DONE}, seen);
    Atomics.notify(c, ${DONE});
  }
};
if (typeof require === 'function') require('node:worker_threads').parentPort.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

interface WorkerLike {
  postMessage(message: unknown): void;
  unref?(): void;
  terminate(): unknown;
}

/** How to start a worker from source text here (Node's worker_threads, a browser's Worker). */
export type WorkerFactory = (source: string) => WorkerLike;

/**
 * Where workers come from here: Node's worker_threads (source evaluated), a browser's Worker
 * (source as a blob URL), or null (neither).
 */
export async function defaultWorkerFactory(): Promise<WorkerFactory | null> {
  const req = await nodeRequire();
  if (req !== null) {
    const { Worker } = req('node:worker_threads') as { Worker: new (source: string, o: { eval: boolean }) => WorkerLike };
    return (source) => new Worker(source, { eval: true });
  }
  if (typeof Worker === 'function' && typeof Blob === 'function' && typeof URL?.createObjectURL === 'function') {
    return (source) => new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
  }
  return null;
}

/**
 * fn(...calls[i]) of `functions` on `backend`'s heap for every i: through its SIMD pool where one
 * runs (calls from `split` on on the worker; see SimdPool.run), else all on this thread.
 */
export function runSplit(
  backend: unknown,
  functions: readonly WatFunction[],
  fn: string,
  calls: readonly (readonly number[])[],
  split: number,
  more = false,
): void {
  const memory = heapMemory(backend);
  const pool = simdPoolFor(memory);
  if (pool !== null) return pool.run(functions, fn, calls, split, more);
  const f = simdKernelsOn(memory, functions)?.[fn];
  if (f === undefined) throw new Error(`@fewstep/backends: no SIMD function ${fn} on this backend`);
  for (const args of calls) f(...args);
}

/** Started pools by heap, each with its current thread policy. */
const pools = new WeakMap<WebAssembly.Memory, { pool: SimdPool; policy: { wanted: () => boolean } }>();

/** The pool started on `memory`, if any. */
export function simdPoolFor(memory: WebAssembly.Memory | null): SimdPool | null {
  return memory === null ? null : (pools.get(memory)?.pool ?? null);
}

/**
 * Starts a pool on shared `memory` for the function sets `sets` (the worker instantiates them
 * now; run() takes only these). `wanted` is the caller's thread policy, asked at every run. A
 * heap has one pool: starting it again returns it with `wanted` as its new policy.
 */
export function startSimdPool(
  memory: WebAssembly.Memory,
  sets: readonly (readonly WatFunction[])[],
  startWorker: WorkerFactory,
  wanted: () => boolean = () => true,
): SimdPool {
  const existing = pools.get(memory);
  if (existing !== undefined) {
    existing.policy.wanted = wanted;
    return existing.pool;
  }
  const policy = { wanted };
  const control = new SharedArrayBuffer(CONTROL_INTS * 4);
  const c = new Int32Array(control);
  const worker = startWorker(WORKER_SOURCE);
  worker.unref?.(); // a sleeping worker must not keep Node running
  worker.postMessage({
    memory,
    control,
    modules: sets.map((functions) => assembleModule({ functions, sharedMemory: true })),
    names: sets.map((functions) => functions.map((f) => f.name)),
  });
  let seq = 0;
  // The browser's main thread may not Atomics.wait: there it spins on the worker's counter.
  let canWait = true;
  const waitForWorker = () => {
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(c, DONE) !== seq) {
      if (!canWait || performance.now() < until) continue; // spin first (see the worker)
      try {
        Atomics.wait(c, DONE, Atomics.load(c, DONE), 50);
      } catch {
        canWait = false;
      }
    }
  };
  const runs = { withWorker: 0, alone: 0 };
  const pool: SimdPool = {
    threads: 2,
    runs,
    active: () => Atomics.load(c, STATE) === READY && policy.wanted(),
    async started(timeoutMs) {
      const until = performance.now() + timeoutMs;
      while (Atomics.load(c, STATE) !== READY && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
      return Atomics.load(c, STATE) === READY;
    },
    run(functions, fn, calls, split, more = false) {
      const set = sets.indexOf(functions);
      const exports = simdKernelsOn(memory, functions);
      if (set < 0 || exports === null) throw new Error(`@fewstep/backends: ${fn} is not in this SIMD pool`);
      const f = exports[fn];
      if (f === undefined) throw new Error(`@fewstep/backends: the SIMD pool has no function ${fn}`);
      const argc = calls[0]?.length ?? 0;
      const useWorker = split < calls.length && pool.active() && ARGS + (calls.length - split) * argc <= CONTROL_INTS;
      const mine = useWorker ? split : calls.length;
      runs[useWorker ? 'withWorker' : 'alone']++;
      if (useWorker) {
        c[SET] = set;
        c[FN] = functions.findIndex((g) => g.name === fn);
        c[COUNT] = calls.length - split;
        c[ARGC] = argc;
        c[MORE] = more ? 1 : 0;
        for (let i = split, o = ARGS; i < calls.length; i++, o += argc) c.set(calls[i], o);
        Atomics.store(c, SEQ, ++seq);
        Atomics.notify(c, SEQ);
      }
      try {
        for (let i = 0; i < mine; i++) f(...calls[i]);
      } finally {
        if (useWorker) waitForWorker(); // never leave the worker writing while the caller goes on
      }
      if (useWorker && Atomics.exchange(c, FAILED, 0) !== 0) throw new Error(`@fewstep/backends: ${fn} failed on the SIMD pool's worker`);
    },
    close() {
      if (Atomics.load(c, STATE) === CLOSED) return;
      Atomics.store(c, STATE, CLOSED);
      Atomics.store(c, SEQ, ++seq);
      Atomics.notify(c, SEQ);
      pools.delete(memory);
      void worker.terminate();
    },
  };
  pools.set(memory, { pool, policy });
  return pool;
}
