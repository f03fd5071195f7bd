// The page of threads.ts: 2-thread wasm in a cross-origin-isolated page, a conv and its
// gradient and the fused GroupNorm + SiLU compared with cpu; the result is left on
// window.__threads.
import * as tf from '@tensorflow/tfjs';
import { initBackend, wasmSimdPool, wasmThreadGate } from '@fewstep/backends';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL } from '@fewstep/core';

/** GroupNorm + SiLU and its gradients (x, weight, bias) of <y, dy>: by `fused` kernels or tf ops. */
async function groupNormSilu(fused: boolean, shape = [2, 8, 8, 16]): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const x = tf.randomUniform(shape, -2, 3, 'float32', 3);
    const w = tf.randomUniform([16], 0.5, 1.5, 'float32', 4);
    const b = tf.randomUniform([16], -0.5, 0.5, 'float32', 5);
    const dy = tf.randomUniform(shape, -1, 1, 'float32', 6);
    const attrs = { groups: 4, eps: 1e-5, silu: true };
    if (fused) {
      const y = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, weight: w, bias: b }, attrs) as tf.Tensor;
      return [y, ...(tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x, weight: w, bias: b }, attrs) as tf.Tensor[])];
    }
    const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi.reshape([shape[0], -1, 4, 4]), [1, 3], true);
      const z = xi.reshape([shape[0], -1, 4, 4]).sub(mean).div(tf.sqrt(variance.add(1e-5))).reshape(xi.shape).mul(wi).add(bi);
      return z.mul(tf.sigmoid(z));
    };
    return [f(x, w, b), ...tf.grads(f)([x, w, b], dy)];
  });
  const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return values;
}

function maxRelError(a: Float32Array[], e: Float32Array[]): number {
  return Math.max(...e.map((ev, k) => ev.reduce((m, v, i) => Math.max(m, Math.abs(a[k][i] - v)), 0) / ev.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
}

async function main() {
  const x = () => tf.randomUniform([4, 16, 16, 16], -1, 1, 'float32', 1) as tf.Tensor4D;
  const w = () => tf.randomUniform([3, 3, 16, 32], -1, 1, 'float32', 2) as tf.Tensor4D;
  const run = async () => {
    const g = tf.tidy(() => tf.grad((f: tf.Tensor) => tf.conv2d(x(), f as tf.Tensor4D, 1, 'same').square().sum())(w()));
    const v = await g.data();
    g.dispose();
    return v;
  };
  await initBackend('cpu');
  const cpu = await run();
  const cpuGroupNorm = await groupNormSilu(false);
  const bigGroupNorm = [4, 96, 96, 16]; // big enough for the passes to use the SIMD pool's worker
  const cpuBigGroupNorm = await groupNormSilu(false, bigGroupNorm);
  /** Eight calls (the gate times both ways, then picks); the last one's relative error to cpu. */
  const relErrorOfRuns = async () => {
    let wasm = await run();
    for (let k = 1; k < 8; k++) wasm = await run();
    let err = 0;
    let max = 0;
    for (let i = 0; i < cpu.length; i++) {
      err = Math.max(err, Math.abs(wasm[i] - cpu[i]));
      max = Math.max(max, Math.abs(cpu[i]));
    }
    return err / max;
  };
  const r = await initBackend('wasm', { threads: 2, wasmPaths: '/wasm/' });
  const gate = wasmThreadGate();
  const relError: Record<string, number> = {};
  // Threads for every op, then the gate's choice.
  for (const mode of ['all', 'gate'] as const) {
    gate?.setMode(mode);
    relError[mode] = await relErrorOfRuns();
  }
  // Our SIMD modules on the page's shared heap: the fused GroupNorm + SiLU (the conv gradient
  // above already ran the filter gradient's GEMM), on the main thread and split with the SIMD
  // pool's worker (a blob-URL Worker on the same memory) where it runs.
  relError.groupNormSilu = maxRelError(await groupNormSilu(true), cpuGroupNorm);
  gate?.setMode('all');
  relError.groupNormSiluBig = maxRelError(await groupNormSilu(true, bigGroupNorm), cpuBigGroupNorm);
  const pool = wasmSimdPool();
  const simdPool = pool === null ? null : { active: pool.active(), ...pool.runs };
  // Without wasmPaths the gate finds the binary tfjs loaded in the page's resource timing.
  const again = await initBackend('wasm', { threads: 2 });
  const regated = wasmThreadGate();
  const withoutPaths = regated === null ? 1 : await relErrorOfRuns();
  return {
    isolated: self.crossOriginIsolated, threads: r.threads, threadPolicy: r.threadPolicy, reason: r.reason, relError, gated: gate?.counts ?? null, simdPool,
    relaxedSimd: r.relaxedSimd,
    withoutWasmPaths: { threadPolicy: again.threadPolicy, gated: regated?.counts ?? null, relError: withoutPaths },
  };
}

main().then(
  (v) => Object.assign(window, { __threads: v }),
  (e) => Object.assign(window, { __threadsError: String(e?.stack ?? e) }),
);
