import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { FewstepError } from '@fewstep/core';
import { initBackend, wasmSimdPool, wasmThreadGate } from '@fewstep/backends';
import { assembleModule } from '../src/simd/assemble';
import { GEMM_FUSED, GEMM_PLAIN, gemmFunctions } from '../src/simd/gemm-wat';
import { simdKernelsOn } from '../src/simd/instance';
import { relError, seeded } from './helpers';

// Its own process (vitest's forks pool): initBackend's relaxedSimd sets a process-wide V8 flag
// and the GEMM chosen is kept for the process.

const fusedValidates = () => WebAssembly.validate(assembleModule({ functions: GEMM_FUSED, sharedMemory: false }));

describe("the GEMM with relaxed SIMD's multiply-add", () => {
  test('initBackend rejects a relaxedSimd that is not a boolean', async () => {
    await expect(initBackend('wasm', { relaxedSimd: 'yes' as never })).rejects.toThrow(FewstepError);
    await expect(initBackend('wasm', { relaxedSimd: 'yes' as never })).rejects.toThrow(/relaxedSimd.*a boolean.*yes/);
  });

  test("initBackend({ relaxedSimd: true }) turns it on in Node 20 and our GEMM takes it; the report says so", async () => {
    const before = fusedValidates(); // false on Node 20, true where the runtime has it by default
    const r = await initBackend('wasm', { threads: 2, relaxedSimd: true });
    expect(fusedValidates()).toBe(true);
    expect(r.relaxedSimd).toBe(true);
    expect(gemmFunctions()).toBe(GEMM_FUSED);
    expect(typeof before).toBe('boolean');
  });

  test('the fused module is valid and under 4 KB, and equals a float64 product to 1e-5', () => {
    const bytes = assembleModule({ functions: GEMM_FUSED, sharedMemory: true });
    expect(bytes.length).toBeLessThan(4096);
    expect(bytes.length).not.toBe(assembleModule({ functions: GEMM_PLAIN, sharedMemory: true }).length);
    const memory = new WebAssembly.Memory({ initial: 16 });
    const f = new Float32Array(memory.buffer);
    // A [8, 300] (row stride 301), B as 2 panels [300, 8], C [8, 16] accumulating onto ones.
    const [rows, k, lda, panels] = [8, 300, 301, 2];
    const a = 0;
    const b = rows * lda * 4;
    const c = b + panels * k * 32;
    for (let i = 0; i < c / 4; i++) f[i] = Math.sin(i * 0.37);
    f.fill(1, c / 4, c / 4 + rows * 16);
    simdKernelsOn(memory, GEMM_FUSED)!.gemm(a, lda * 4, b, c, 64, rows, panels, k);
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < 16; n++) {
        let sum = 1;
        for (let q = 0; q < k; q++) sum += f[r * lda + q] * f[b / 4 + (Math.floor(n / 8) * k + q) * 8 + (n % 8)];
        worst = Math.max(worst, Math.abs(f[c / 4 + r * 16 + n] - sum) / (1 + Math.abs(sum)));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  test("on 2-thread wasm the filter gradient and attention's products run it (with the SIMD pool's worker) and match cpu", async () => {
    const f = () =>
      tf.tidy(() => {
        const x = seeded([4, 16, 16, 8], 1);
        const w = seeded([3, 3, 8, 16], 2);
        const q = seeded([4, 40, 24], 3); // products over the loop threshold: our batched GEMM
        const dw = tf.grad((ww: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same').square().sum())(w);
        const dq = tf.grad((qq: tf.Tensor) => tf.matMul(qq, qq, false, true).square().sum())(q);
        return [dw, dq].map((t) => Float32Array.from(t.dataSync()));
      });
    await tf.setBackend('cpu');
    const cpu = f();
    await tf.setBackend('wasm');
    wasmThreadGate()!.setMode('all');
    const pool = wasmSimdPool()!;
    const before = pool.runs.withWorker;
    const wasm = f();
    wasm.forEach((v, i) => expect(relError(v, cpu[i]), `output ${i}`).toBeLessThan(1e-4));
    expect(pool.runs.withWorker).toBeGreaterThan(before);
  });
});
