// The page of threads.ts: 2-thread wasm in a cross-origin-isolated page, a conv and its
// gradient compared with cpu; the result is left on window.__threads.
import * as tf from '@tensorflow/tfjs';
import { initBackend, wasmThreadGate } from '@fewstep/backends';

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
  // Without wasmPaths the gate finds the binary tfjs loaded in the page's resource timing.
  const again = await initBackend('wasm', { threads: 2 });
  const regated = wasmThreadGate();
  const withoutPaths = regated === null ? 1 : await relErrorOfRuns();
  return {
    isolated: self.crossOriginIsolated, threads: r.threads, threadPolicy: r.threadPolicy, reason: r.reason, relError, gated: gate?.counts ?? null,
    withoutWasmPaths: { threadPolicy: again.threadPolicy, gated: regated?.counts ?? null, relError: withoutPaths },
  };
}

main().then(
  (v) => Object.assign(window, { __threads: v }),
  (e) => Object.assign(window, { __threadsError: String(e?.stack ?? e) }),
);
