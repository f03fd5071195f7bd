import * as tf from '@tensorflow/tfjs';
import type { ThreadSwitch } from './wasm-threadpool-address';

/**
 * The thread policy for threaded wasm: threads where they are measured to pay.
 *
 * Measured on 2 shared vCPUs (docs/benchmarks.md, bench:threads): under load, elementwise ops ran
 * up to 14x slower with the pool (Sigmoid of 1e4 elements) and convs and matmuls 1.3-2.5x
 * slower, while some big convs still gained; on a quiet machine threading every op was fastest.
 * So the conv/matmul kernels below of at least `minFlops` time themselves per call signature
 * (kernel, input shapes, attributes: a training step repeats its signatures): after a warm-up
 * call, calls alternate with and without the pool until each has 3 samples, and every 64th call
 * re-times the mode not chosen, so the verdicts follow the load. While those calls find threads
 * faster overall (the sum over signatures of one thread's median minus the threaded one is > 0:
 * `threadsPay`), every op runs threaded, as stock tfjs does. Otherwise each timed signature runs
 * as its own medians say, and every other op on one thread (the pool pointer NULL, see
 * wasm-threadpool-address.ts). Ops are not trusted one signature at a time while threads pay:
 * at 0.1-10 ms a call, the OS's time slices on a shared machine swamp the differences (one
 * Multiply signature measured 9x faster threaded, its neighbour 10x slower), and per-signature
 * choices measured 5-10% slower steps than threading every op on a quiet machine.
 */

/** Where the kernel's FLOPs are estimated from its inputs and attributes. */
type FlopsOf = (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => number;

const prod = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);
type Shape4 = [number, number, number, number];
type ConvAttrs = { strides: number | [number, number]; dilations?: number | [number, number]; pad: 'same' | 'valid' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil'; dataFormat?: 'NHWC' | 'NCHW' };

/** 2 x the multiply-adds of a conv: output positions x KH x KW x Cin x Cout (tfjs's own geometry). */
function convFlopsOf(depthwise: boolean): FlopsOf {
  return ({ x, filter }, attrs) => {
    const a = attrs as unknown as ConvAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4, filter.shape as Shape4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise,
      a.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast',
    );
    return 2 * info.batchSize * info.outHeight * info.outWidth * prod(filter.shape);
  };
}
const convFlops = convFlopsOf(false);

/** Conv2DBackpropInput: the forward conv's FLOPs, from dy [N, Ho, Wo, Cout]. */
const convInputGradFlops: FlopsOf = ({ dy, filter }) => 2 * prod(dy.shape.slice(0, 3)) * prod(filter.shape);

/** Conv2DBackpropFilter: the forward conv's FLOPs, from x, dy [N, Ho, Wo, Cout] and the filter shape. */
const convFilterGradFlops: FlopsOf = ({ x, dy }, attrs) => {
  const [kh, kw] = attrs.filterShape as number[];
  const nhwc = attrs.dataFormat !== 'NCHW';
  const ci = nhwc ? x.shape[3] : x.shape[1];
  return 2 * prod(dy.shape) * kh * kw * ci;
};

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
  [tf.DepthwiseConv2dNative]: convFlopsOf(true),
  [tf.FusedDepthwiseConv2D]: convFlopsOf(true),
  [tf.Conv2DBackpropInput]: convInputGradFlops,
  // Ours runs products (themselves gated) or our GEMM, which shares its work with the SIMD
  // pool's worker while the pool is on.
  [tf.Conv2DBackpropFilter]: convFilterGradFlops,
  [tf.BatchMatMul]: matMulFlops,
  [tf._FusedMatMul]: matMulFlops,
};


/** Gated calls under this many FLOPs are not timed (too short to time reliably): they run as every other op. */
export const DEFAULT_MIN_FLOPS = 2e6;
/** Samples of each mode before a bucket chooses; re-time the other mode every this many calls. */
const PROBES = 3;
const RECHECK = 64;

/** 'gate': the policy; 'all': threads for every op (stock tfjs); 'none': one thread for every op. */
export type GateMode = 'gate' | 'all' | 'none';

/** One kernel call signature's timings and choice (a training step repeats its signatures). */
export interface GateBucket {
  kernel: string;
  /** Input shapes and attributes. */
  signature: string;
  flops: number;
  calls: number;
  /** Median ms of the last timed calls with threads and without (NaN until timed). */
  threadedMs: number;
  singleMs: number;
  threaded: boolean;
}

export interface ThreadGate {
  threads: number;
  minFlops: number;
  /** Gated kernels' calls run so far with and without threads. */
  counts: { threaded: number; single: number };
  /** Current mode (benchmarks compare the three in one process); 'gate' unless changed. */
  mode: GateMode;
  setMode(mode: GateMode): void;
  /** What each bucket (a timed conv/matmul call signature) measured and chose. */
  buckets(): GateBucket[];
  /** Whether the timed calls find threads faster overall: every other op then runs threaded. */
  threadsPay(): boolean;
  /** Restores the gated kernels and leaves the pool on (stock tfjs threading). */
  uninstall(): void;
}

interface Samples extends GateBucket {
  on: number[];
  off: number[];
  /** This bucket's share of the gate's vote: singleMs - threadedMs once both are timed, else 0. */
  vote: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
/** Timed calls kept per mode: a median of 5 shrugs off a call the OS descheduled. */
const KEEP = 5;

/** Whether a bucket's next call runs threaded (`threadsPay`: the timed calls' overall verdict). */
function plan(b: Samples, threadsPay: boolean): boolean {
  if (b.calls === 1) return false; // the first call creates XNNPACK's operator: not timed
  if (b.on.length < PROBES || b.off.length < PROBES) return b.on.length < b.off.length;
  const chosen = threadsPay || b.threaded;
  return b.calls % RECHECK === 0 ? !chosen : chosen;
}

/** Records a call's time and re-decides. */
function learn(b: Samples, threaded: boolean, ms: number): void {
  if (b.calls === 1) return;
  const list = threaded ? b.on : b.off;
  list.push(ms);
  if (list.length > KEEP) list.shift();
  b.threadedMs = b.on.length ? median(b.on) : NaN;
  b.singleMs = b.off.length ? median(b.off) : NaN;
  // No margin in favour of one thread: a probe with threads follows calls without them and pays
  // for waking the pool's workers, which a run of threaded calls does not (a 5% margin measured
  // 3-6% slower steps).
  if (b.on.length >= PROBES && b.off.length >= PROBES) b.threaded = b.threadedMs < b.singleMs;
}

function bucketTable() {
  const table = new Map<string, Samples>();
  const get = (kernel: string, flops: number, inputs: Record<string, tf.TensorInfo>, attrs: unknown): Samples => {
    // Optional inputs (a fused op's bias or prelu weights) may be absent: null or undefined.
    const signature = `${Object.values(inputs).map((t) => (t == null ? '-' : `[${t.shape}]`)).join(' ')} ${JSON.stringify(attrs)}`;
    const id = `${kernel} ${signature}`;
    let b = table.get(id);
    if (b === undefined) {
      b = { kernel, signature, flops, calls: 0, threadedMs: NaN, singleMs: NaN, threaded: false, on: [], off: [], vote: 0 };
      table.set(id, b);
    }
    return b;
  };
  const list = (): GateBucket[] => [...table.values()].map(({ on: _on, off: _off, vote: _vote, ...b }) => ({ ...b }));
  return { get, list };
}

/**
 * Wraps the gated kernels of `backendName` (those registered now: ours or stock) so that each
 * call chooses threads as above, and switches threads off for everything else. `composite`:
 * kernels left unwrapped because they run gated kernels inside (our Conv2DBackpropInput runs
 * Conv2D), so that only the inner calls choose and the glue around them stays on one thread.
 */
export function installThreadGate(sw: ThreadSwitch, backendName: string, minFlops: number, composite: readonly string[] = []): ThreadGate {
  const originals = new Map<string, tf.KernelConfig>();
  const wrappers = new Map<string, tf.KernelFunc>();
  const counts = { threaded: 0, single: 0 };
  const buckets = bucketTable();
  let mode: GateMode = 'gate';
  // The timed buckets' vote: the sum of (one thread's median - the threaded median), in ms,
  // kept as a running total of each bucket's share.
  let vote = 0;
  const recount = (b: Samples) => {
    const share = Number.isNaN(b.threadedMs) || Number.isNaN(b.singleMs) ? 0 : b.singleMs - b.threadedMs;
    vote += share - b.vote;
    b.vote = share;
  };
  /** The pool's state between gated calls. */
  const resting = () => (mode === 'gate' ? vote > 0 : mode === 'all');
  let depth = 0;
  for (const [kernelName, flopsOf] of Object.entries(GATED_KERNELS)) {
    const config = tf.getKernel(kernelName, backendName);
    if (config === undefined || composite.includes(kernelName)) continue;
    const inner = config.kernelFunc;
    const wrapped: tf.KernelFunc = (args) => {
      const was = sw.on;
      let b: Samples | null = null;
      let threaded = resting(); // calls under the floor run as every other op
      if (mode === 'gate') {
        const inputs = args.inputs as Record<string, tf.TensorInfo>;
        const flops = flopsOf(inputs, args.attrs as Record<string, unknown>);
        if (flops >= minFlops) {
          b = buckets.get(kernelName, flops, inputs, args.attrs);
          b.calls++;
          threaded = plan(b, vote > 0);
        }
      }
      depth++;
      sw.set(threaded);
      if (threaded) counts.threaded++;
      else counts.single++;
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        // wasm kernels finish before they return (XNNPACK joins its threads): the time is the op's.
        if (b !== null) {
          learn(b, threaded, performance.now() - t0);
          recount(b);
        }
        // Inside a composite gated kernel (our BatchMatMul) restore its choice; else the rest.
        sw.set(--depth > 0 ? was : resting());
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
    get mode() {
      return mode;
    },
    setMode(next: GateMode) {
      mode = next;
      sw.set(resting());
    },
    buckets: buckets.list,
    threadsPay: () => vote > 0,
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
