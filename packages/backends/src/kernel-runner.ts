import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type NamedAttrs = Record<string, unknown>;

/**
 * Runs other kernels of one backend from inside a kernel, the way stock backends compose
 * kernels: directly through the kernel registry, never through the engine, so nothing is taped
 * and intermediates are freed by `dispose()` (a kernel such as Reshape may return its input's
 * data with an extra reference; disposing each result once balances that).
 */
export class KernelRunner {
  private readonly temps: TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  /** Runs kernel `name` and keeps its (single) output as an intermediate to free later. */
  run(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrs = {}): TensorInfo {
    const kernel = tf.getKernel(name, this.backendName);
    if (kernel === undefined) {
      throw new Error(`@fewstep/backends: kernel ${name} is not registered for backend ${this.backendName}`);
    }
    const out = kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend });
    const info = Array.isArray(out) ? out[0] : out;
    this.temps.push(info);
    return info;
  }

  /** Adopts a tensor made elsewhere as an intermediate. */
  track(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return perm.every((p, i) => p === i) ? x : this.run('Transpose', { x }, { perm });
  }

  /** Slices `x` only when the slice is not the whole tensor. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    const whole = begin.every((b, i) => b === 0 && size[i] === x.shape[i]);
    return whole ? x : this.run('Slice', { x }, { begin, size });
  }

  pad(x: TensorInfo, paddings: [number, number][]): TensorInfo {
    const none = paddings.every(([a, b]) => a === 0 && b === 0);
    return none ? x : this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Removes `out` from the intermediates so `dispose()` leaves it alive (the kernel's result). */
  keep(out: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(out);
    if (i >= 0) {
      this.temps.splice(i, 1);
      return out;
    }
    // Not produced here (an input passed straight through): return it with its own reference.
    const copy = this.run('Identity', { x: out });
    this.temps.pop();
    return copy;
  }

  /** Frees every intermediate once. */
  dispose(): void {
    for (const t of this.temps.splice(0)) this.backend.disposeData(t.dataId);
  }

  /** Runs `body` with a fresh runner and frees its intermediates, keeping only the result. */
  static use(
    backend: tf.KernelBackend,
    backendName: string,
    body: (r: KernelRunner) => TensorInfo,
  ): TensorInfo {
    const r = new KernelRunner(backend, backendName);
    try {
      return r.keep(body(r));
    } finally {
      r.dispose();
    }
  }
}

/**
 * A kernel config whose body composes the backend's own kernels through a KernelRunner (its
 * intermediates freed, nothing recorded on the tape): `body(r, inputs, attrs)`.
 */
export function runnerKernel<I extends Record<string, TensorInfo>, A>(
  kernelName: string,
  backendName: string,
  body: (r: KernelRunner, inputs: I, attrs: A) => TensorInfo,
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      KernelRunner.use(backend as tf.KernelBackend, backendName, (r) => body(r, inputs as unknown as I, attrs as unknown as A)),
  };
}

/**
 * Reads a tensor's values synchronously from its backend. Only for kernels marked `readsHost`,
 * which the registry never puts on webgpu (whose synchronous read returns zeros).
 */
export function readValues(backend: tf.KernelBackend, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.readSync(t.dataId) as Float32Array | Int32Array | Uint8Array;
}

/** Makes an output tensor holding `values` on `backend` (wasm: in its heap; others: makeTensorInfo). */
export function makeOutput(
  backend: tf.KernelBackend,
  shape: number[],
  dtype: tf.DataType,
  values: Float32Array | Int32Array,
): TensorInfo {
  const b = backend as unknown as {
    makeOutput?: (s: number[], d: tf.DataType, o?: number, v?: tf.backend_util.BackendValues) => TensorInfo;
    makeTensorInfo?: (s: number[], d: tf.DataType, v?: tf.backend_util.BackendValues) => TensorInfo;
  };
  // cpu/webgl/webgpu: makeTensorInfo; wasm has only makeOutput (cpu's makeOutput means something else).
  if (typeof b.makeTensorInfo === 'function') return b.makeTensorInfo(shape, dtype, values);
  if (typeof b.makeOutput === 'function') return b.makeOutput(shape, dtype, undefined, values);
  const dataId = backend.write(values, shape, dtype);
  return { dataId, shape, dtype };
}
