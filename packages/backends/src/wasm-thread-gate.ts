import * as tf from '@tensorflow/tfjs';

/**
 * The thread policy for threaded wasm: threads only where they pay.
 *
 * tfjs-backend-wasm hands one global `pthreadpool*` (`tfjs::backend::threadpool`) to every
 * XNNPACK call; XNNPACK runs a call on the calling thread alone when that pointer is NULL. So the
 * gate keeps the pointer NULL by default (every op single-threaded) and puts the pool back only
 * for the duration of a big compute-bound kernel (conv, matmul) whose FLOPs reach `minFlops`.
 * Measured on 2 vCPUs (docs/benchmarks.md): with the pool every elementwise op got 1.3-2x slower
 * at every size from 1e3 to 1e6 elements, small convs 2.4x slower, and big convs 2x faster.
 *
 * The pointer's address is read from the module's own code: the exported `get_threads_count` is
 * `if (threadpool == NULL) return -1; return pthreadpool_get_threads_count(threadpool);`, whose
 * first instructions are `i32.const ADDR; i32.load`. The gate checks itself before use: with the
 * pointer cleared `get_threads_count()` must answer -1, and with it restored the thread count.
 */

/** Where the kernel's FLOPs are estimated from its inputs and attributes. */
type FlopsOf = (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => number;

const prod = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);
const strides = (s: unknown): [number, number] => (Array.isArray(s) ? [s[0], s[1]] : [Number(s ?? 1), Number(s ?? 1)]);

/** 2 x N x H x W / stride x KH x KW x Cin x Cout (a same-padded conv's multiply-adds, doubled). */
const convFlops: FlopsOf = ({ x, filter }, attrs) => {
  const [sh, sw] = strides(attrs.strides);
  const [n, h, w] = x.shape;
  return (2 * n * h * w * prod(filter.shape)) / (sh * sw);
};

/** Conv2DBackpropInput: the forward conv's FLOPs, from dy [N, Ho, Wo, Cout]. */
const convInputGradFlops: FlopsOf = ({ dy, filter }) => 2 * prod(dy.shape.slice(0, 3)) * prod(filter.shape);

const matMulFlops: FlopsOf = ({ a, b }, attrs) => {
  const ra = a.shape.length;
  const [m, k] = attrs.transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const rb = b.shape.length;
  const n = attrs.transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batch = Math.max(prod(a.shape.slice(0, -2)), prod(b.shape.slice(0, -2)));
  return 2 * batch * m * n * k;
};

/** The kernels worth threads when big: every other kernel runs single-threaded. */
export const GATED_KERNELS: Readonly<Record<string, FlopsOf>> = {
  [tf.Conv2D]: convFlops,
  [tf.FusedConv2D]: convFlops,
  [tf.DepthwiseConv2dNative]: convFlops,
  [tf.FusedDepthwiseConv2D]: convFlops,
  [tf.Conv2DBackpropInput]: convInputGradFlops,
  [tf.BatchMatMul]: matMulFlops,
  [tf._FusedMatMul]: matMulFlops,
};

/**
 * Default FLOPs from which a gated kernel gets the threads. Measured on 2 vCPUs: a 3x3 conv of
 * 19 MFLOP ran 2.4x slower threaded and a 0.23 GFLOP one 2x faster (the sweep in bench:threads).
 */
export const DEFAULT_MIN_FLOPS = 64e6;

/** Finds `tfjs::backend::threadpool`'s address in the wasm binary, or returns null. */
export function threadpoolAddress(wasm: Uint8Array): number | null {
  let p = 8;
  const u32 = () => {
    let r = 0;
    let s = 0;
    let b: number;
    do {
      b = wasm[p++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80 && p < wasm.length);
    return r;
  };
  const i32 = () => {
    let r = 0;
    let s = 0;
    let b: number;
    do {
      b = wasm[p++];
      r |= (b & 0x7f) << s;
      s += 7;
    } while (b & 0x80);
    return s < 32 && b & 0x40 ? r | (-1 << s) : r;
  };
  const name = () => {
    const n = u32();
    const out = new TextDecoder().decode(wasm.subarray(p, p + n));
    p += n;
    return out;
  };
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) return null;
  let importedFuncs = 0;
  let target = -1;
  let code = -1;
  while (p < wasm.length) {
    const id = wasm[p++];
    const size = u32(); // read before p is used: the section starts after its size
    const end = p + size;
    if (id === 2) {
      for (let i = u32(); i > 0; i--) {
        name();
        name();
        const kind = wasm[p++];
        if (kind === 0) (u32(), importedFuncs++);
        else if (kind === 1) (p++, limits());
        else if (kind === 2) limits();
        else if (kind === 3) p += 2;
        else return null;
      }
    } else if (id === 7) {
      for (let i = u32(); i > 0; i--) {
        const n = name();
        const kind = wasm[p++];
        const index = u32();
        if (kind === 0 && n === 'get_threads_count') target = index;
      }
    } else if (id === 10) code = p;
    p = end;
  }
  function limits() {
    const flags = wasm[p++];
    u32();
    if (flags & 1) u32();
  }
  if (target < importedFuncs || code < 0) return null;
  p = code;
  const bodies = u32();
  for (let i = 0; i < bodies; i++) {
    const size = u32();
    if (i !== target - importedFuncs) {
      p += size;
      continue;
    }
    for (let groups = u32(); groups > 0; groups--) (u32(), p++);
    if (wasm[p++] !== 0x41) return null; // i32.const
    const base = i32();
    if (wasm[p++] !== 0x28) return null; // i32.load
    u32(); // alignment
    return base + u32();
  }
  return null;
}

interface WasmModule {
  wasmMemory?: WebAssembly.Memory;
  HEAP32?: Int32Array;
  _get_threads_count: () => number;
}

/** Turns the pool on and off for the calling thread's XNNPACK calls. */
export class ThreadSwitch {
  private constructor(
    private readonly module: WasmModule,
    private readonly index: number,
    private readonly pool: number,
    readonly threads: number,
  ) {}

  /** A switch for `module` after a self-check, or why there cannot be one. */
  static create(module: WasmModule, address: number | null): ThreadSwitch | string {
    if (address === null) return 'threadpool pointer not found in the wasm binary';
    const sw = new ThreadSwitch(module, address >> 2, 0, 0);
    const pool = sw.heap()[sw.index];
    const threads = module._get_threads_count();
    if (pool === 0 || threads < 2) return `no thread pool at ${address} (threads ${threads})`;
    sw.heap()[sw.index] = 0;
    const off = module._get_threads_count();
    sw.heap()[sw.index] = pool;
    if (off !== -1 || module._get_threads_count() !== threads) return `self-check failed at ${address} (${off})`;
    return new ThreadSwitch(module, address >> 2, pool, threads);
  }

  private heap(): Int32Array {
    // The memory can grow (a new buffer): view it afresh.
    const buffer = this.module.wasmMemory?.buffer ?? this.module.HEAP32?.buffer;
    return new Int32Array(buffer as ArrayBufferLike);
  }

  get on(): boolean {
    return this.heap()[this.index] !== 0;
  }

  set(on: boolean): void {
    this.heap()[this.index] = on ? this.pool : 0;
  }
}

export interface ThreadGate {
  threads: number;
  minFlops: number;
  /** Gated kernels run so far with and without threads (for reports and tests). */
  counts: { threaded: number; single: number };
  /** Restores the gated kernels and leaves the pool on (stock tfjs threading). */
  uninstall(): void;
}

/**
 * Wraps the gated kernels of `backendName` (those registered now: ours or stock) so that each
 * call of at least `minFlops` runs with threads, and switches threads off for everything else.
 */
export function installThreadGate(sw: ThreadSwitch, backendName: string, minFlops: number): ThreadGate {
  const originals = new Map<string, tf.KernelConfig>();
  const wrappers = new Map<string, tf.KernelFunc>();
  const counts = { threaded: 0, single: 0 };
  for (const [kernelName, flopsOf] of Object.entries(GATED_KERNELS)) {
    const config = tf.getKernel(kernelName, backendName);
    if (config === undefined) continue;
    const inner = config.kernelFunc;
    const wrapped: tf.KernelFunc = (args) => {
      const big = flopsOf(args.inputs as Record<string, tf.TensorInfo>, args.attrs as Record<string, unknown>) >= minFlops;
      const was = sw.on;
      sw.set(big);
      if (big) counts.threaded++;
      else counts.single++;
      try {
        return inner(args);
      } finally {
        sw.set(was);
      }
    };
    originals.set(kernelName, config);
    wrappers.set(kernelName, wrapped);
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ ...config, kernelFunc: wrapped });
  }
  sw.set(false);
  return {
    threads: sw.threads,
    minFlops,
    counts,
    uninstall() {
      for (const [kernelName, config] of originals) {
        // Put the original back only where our wrapper is still the registered kernel.
        if (tf.getKernel(kernelName, backendName)?.kernelFunc !== wrappers.get(kernelName)) continue;
        tf.unregisterKernel(kernelName, backendName);
        tf.registerKernel(config);
      }
      originals.clear();
      sw.set(true);
    },
  };
}
