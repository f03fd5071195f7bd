import * as tf from '@tensorflow/tfjs';
import type { ThreadSwitch } from './wasm-threadpool-address';

/**
 * The thread policy for threaded wasm: threads only where they are measured to pay.
 *
 * Measured on 2 shared vCPUs (docs/benchmarks.md, bench:threads): with the pool, small elementwise
 * ops ran up to 14x slower (Sigmoid of 1e4 elements under load) while big ones ran up to 1.4x
 * faster on a quiet machine; convs and matmuls ran 2x faster or 1.3-2.5x slower at the same size
 * depending on the machine's load. So: every op runs on one thread (the pool pointer NULL, see
 * wasm-threadpool-address.ts), except the conv/matmul kernels of at least `minFlops` and the
 * elementwise / pooling kernels of at least `minElements`, which choose per call signature
 * (kernel, input shapes, attributes: a training step repeats its signatures) by timing
 * themselves: after a warm-up call, calls alternate with and without the pool until each has 3
 * samples; threads win when their median is below; and every 64th call re-times
 * the mode not chosen, so the choice follows the load.
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
  [tf.BatchMatMul]: matMulFlops,
  [tf._FusedMatMul]: matMulFlops,
};


/**
 * Stock wasm kernels that XNNPACK may split over the pool, gated by their largest input's size:
 * binary and unary elementwise ops, softmax, pooling, resizing and the data movers. A kernel that does not use the
 * pool times the same both ways, so either choice costs nothing.
 */
export const ELEMENTWISE_GATED_KERNELS: readonly string[] = [
  tf.Add, tf.Sub, tf.Multiply, tf.RealDiv, tf.Maximum, tf.Minimum, tf.SquaredDifference,
  tf.Sigmoid, tf.Square, tf.Sqrt, tf.Rsqrt, tf.Exp, tf.Log, tf.Abs, tf.Neg, tf.Tanh,
  tf.Relu, tf.Relu6, tf.Elu, tf.LeakyRelu, tf.Prelu, tf.ClipByValue,
  tf.Softmax, tf.AvgPool, tf.MaxPool, tf.ResizeBilinear, tf.FusedBatchNorm,
  tf.Transpose, tf.PadV2, tf.Concat, tf.Reverse,
];

/** Elements of the largest input: the size of an elementwise call. */
const largestInput: FlopsOf = (inputs) => Math.max(0, ...Object.values(inputs).map((t) => (t == null ? 0 : prod(t.shape))));

/** Gated conv/matmul calls under this many FLOPs stay on one thread (too short to time or to split). */
export const DEFAULT_MIN_FLOPS = 2e6;
/** Gated elementwise calls under this many elements stay on one thread. */
export const DEFAULT_MIN_ELEMENTS = 65536;
/** Samples of each mode before a bucket chooses; re-time the other mode every this many calls. */
const PROBES = 3;
const RECHECK = 64;
/**
 * Threads are chosen when their median x MARGIN is below one thread's. 1, not a safety margin
 * below 1: a probe with threads follows calls without them, so it pays for waking the pool's
 * workers, which a run of threaded calls does not (a margin of 0.95 measured 3-6% slower steps).
 */
const MARGIN = 1;

/**
 * 'gate': the policy; 'all': threads for every op (stock tfjs); 'none': one thread for every op;
 * 'floor': threads for every gated call over its floor, untimed (benchmarks compare the four).
 */
export type GateMode = 'gate' | 'all' | 'none' | 'floor';

/** One kernel call signature's timings and choice (a training step repeats its signatures). */
export interface GateBucket {
  kernel: string;
  /** Input shapes and attributes. */
  signature: string;
  /** FLOPs of a conv/matmul call; elements of an elementwise call's largest input. */
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
  minElements: number;
  /** Gated kernels' calls run so far with and without threads. */
  counts: { threaded: number; single: number };
  /** Current mode (benchmarks compare the three in one process); 'gate' unless changed. */
  mode: GateMode;
  setMode(mode: GateMode): void;
  /** What each bucket measured and chose. */
  buckets(): GateBucket[];
  /** Restores the gated kernels and leaves the pool on (stock tfjs threading). */
  uninstall(): void;
}

interface Samples extends GateBucket {
  on: number[];
  off: number[];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
/** Timed calls kept per mode: a median of 5 shrugs off a call the OS descheduled. */
const KEEP = 5;

/** Whether a bucket's next call runs threaded. */
function plan(b: Samples): boolean {
  if (b.calls === 1) return false; // the first call creates XNNPACK's operator: not timed
  if (b.on.length < PROBES || b.off.length < PROBES) return b.on.length < b.off.length;
  return b.calls % RECHECK === 0 ? !b.threaded : b.threaded;
}

/** Records a call's time and re-decides. */
function learn(b: Samples, threaded: boolean, ms: number): void {
  if (b.calls === 1) return;
  const list = threaded ? b.on : b.off;
  list.push(ms);
  if (list.length > KEEP) list.shift();
  b.threadedMs = b.on.length ? median(b.on) : NaN;
  b.singleMs = b.off.length ? median(b.off) : NaN;
  if (b.on.length >= PROBES && b.off.length >= PROBES) b.threaded = b.threadedMs < MARGIN * b.singleMs;
}

function bucketTable() {
  const table = new Map<string, Samples>();
  const get = (kernel: string, flops: number, inputs: Record<string, tf.TensorInfo>, attrs: unknown): Samples => {
    // Optional inputs (a fused op's bias or prelu weights) may be absent: null or undefined.
    const signature = `${Object.values(inputs).map((t) => (t == null ? '-' : `[${t.shape}]`)).join(' ')} ${JSON.stringify(attrs)}`;
    const id = `${kernel} ${signature}`;
    let b = table.get(id);
    if (b === undefined) {
      b = { kernel, signature, flops, calls: 0, threadedMs: NaN, singleMs: NaN, threaded: false, on: [], off: [] };
      table.set(id, b);
    }
    return b;
  };
  const list = (): GateBucket[] => [...table.values()].map(({ on: _on, off: _off, ...b }) => ({ ...b }));
  return { get, list };
}

/**
 * Wraps the gated kernels of `backendName` (those registered now: ours or stock) so that each
 * call chooses threads as above, and switches threads off for everything else. `composite`:
 * kernels left unwrapped because they run gated kernels inside (our Conv2DBackpropInput runs
 * Conv2D), so that only the inner calls choose and the glue around them stays on one thread.
 */
export function installThreadGate(
  sw: ThreadSwitch,
  backendName: string,
  minFlops: number,
  composite: readonly string[] = [],
  minElements = DEFAULT_MIN_ELEMENTS,
): ThreadGate {
  const originals = new Map<string, tf.KernelConfig>();
  const wrappers = new Map<string, tf.KernelFunc>();
  const counts = { threaded: 0, single: 0 };
  const buckets = bucketTable();
  let mode: GateMode = 'gate';
  const gated: [string, FlopsOf, number][] = [
    ...Object.entries(GATED_KERNELS).map(([k, f]): [string, FlopsOf, number] => [k, f, minFlops]),
    ...ELEMENTWISE_GATED_KERNELS.map((k): [string, FlopsOf, number] => [k, largestInput, minElements]),
  ];
  for (const [kernelName, flopsOf, floor] of gated) {
    const config = tf.getKernel(kernelName, backendName);
    if (config === undefined || composite.includes(kernelName)) continue;
    const inner = config.kernelFunc;
    const wrapped: tf.KernelFunc = (args) => {
      const was = sw.on;
      let b: Samples | null = null;
      let threaded = mode === 'all';
      if (mode === 'floor') threaded = flopsOf(args.inputs as Record<string, tf.TensorInfo>, args.attrs as Record<string, unknown>) >= floor;
      if (mode === 'gate') {
        const inputs = args.inputs as Record<string, tf.TensorInfo>;
        const flops = flopsOf(inputs, args.attrs as Record<string, unknown>);
        if (flops >= floor) {
          b = buckets.get(kernelName, flops, inputs, args.attrs);
          b.calls++;
          threaded = plan(b);
        }
      }
      sw.set(threaded);
      if (threaded) counts.threaded++;
      else counts.single++;
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        // wasm kernels finish before they return (XNNPACK joins its threads): the time is the op's.
        if (b !== null) learn(b, threaded, performance.now() - t0);
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
    minElements,
    counts,
    get mode() {
      return mode;
    },
    setMode(next: GateMode) {
      mode = next;
      sw.set(next === 'all' || next === 'floor');
    },
    buckets: buckets.list,
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
