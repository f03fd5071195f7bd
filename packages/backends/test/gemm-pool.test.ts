import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assembleModule } from '../src/simd/assemble';
import { GEMM_PLAIN as GEMM_FUNCTIONS, PANEL, TILE_ROWS } from '../src/simd/gemm-wat';
import { simdKernelsOn } from '../src/simd/instance';
import { defaultWorkerFactory, simdPoolFor, startSimdPool, type SimdPool } from '../src/simd/pool';
import { TRANSPOSE_FUNCTIONS } from '../src/simd/transpose-wat';

/** A deterministic pseudo-random fill in [-1, 1). */
function fill(v: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
}

/** A GEMM problem laid out on `memory` as gemm() reads it: A rows with a stride, B in panels. */
function problem(memory: WebAssembly.Memory, rows: number, panels: number, k: number, seed: number) {
  const lda = k + 5; // strides wider than the rows they hold
  const ldc = panels * PANEL + 3;
  const a = 64; // byte addresses, A then B then C
  const b = a + rows * lda * 4;
  const c = b + panels * k * PANEL * 4;
  const f = new Float32Array(memory.buffer);
  const A = f.subarray(a / 4, b / 4);
  const B = f.subarray(b / 4, c / 4);
  const C = f.subarray(c / 4, c / 4 + rows * ldc);
  fill(A, seed);
  fill(B, seed + 1);
  fill(C, seed + 2); // gemm accumulates onto C
  // The float64 answer: C + A B.
  const expected = Float64Array.from(C);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < panels * PANEL; n++) {
      const [p, j] = [Math.floor(n / PANEL), n % PANEL];
      let sum = 0;
      for (let q = 0; q < k; q++) sum += A[r * lda + q] * B[(p * k + q) * PANEL + j];
      expected[r * ldc + n] += sum;
    }
  }
  const args = (from: number, count: number) => [a + from * lda * 4, lda * 4, b, c + from * ldc * 4, ldc * 4, count, panels, k];
  const error = () => {
    let worst = 0;
    for (let r = 0; r < rows; r++) for (let n = 0; n < panels * PANEL; n++) worst = Math.max(worst, Math.abs(C[r * ldc + n] - expected[r * ldc + n]) / (1 + Math.abs(expected[r * ldc + n])));
    return worst;
  };
  return { args, error };
}

const sharedMemory = () => new WebAssembly.Memory({ initial: 64, maximum: 256, shared: true });

describe('our SIMD GEMM (C += A B, B in panels of 8 columns)', () => {
  test('assembles into a valid module under 4 KB', () => {
    for (const shared of [false, true]) {
      const bytes = assembleModule({ functions: GEMM_FUNCTIONS, sharedMemory: shared });
      expect(WebAssembly.validate(bytes)).toBe(true);
      expect(bytes.length).toBeLessThan(4096);
    }
  });

  // k: under one unrolled step, not a multiple of 4, exactly one block, across block edges.
  const cases: [number, number, number][] = [[4, 1, 1], [4, 1, 3], [8, 2, 4], [4, 3, 255], [12, 1, 256], [8, 2, 257], [4, 2, 1031]];
  test.each(cases)('rows %i, panels %i, k %i: equals a float64 product to 1e-5', (rows, panels, k) => {
    const memory = new WebAssembly.Memory({ initial: 64 });
    const gemm = simdKernelsOn(memory, GEMM_FUNCTIONS)!;
    const { args, error } = problem(memory, rows, panels, k, rows * 31 + k);
    gemm.gemm(...args(0, rows));
    expect(error()).toBeLessThan(1e-5);
  });

  test('tiles are 4 rows of 8 columns', () => {
    expect([TILE_ROWS, PANEL]).toEqual([4, 8]);
  });
});

describe('the SIMD pool (a worker running our kernels on the same shared memory)', () => {
  let memory: WebAssembly.Memory;
  let pool: SimdPool;
  let wanted = true;
  beforeAll(async () => {
    memory = sharedMemory();
    const start = await defaultWorkerFactory();
    expect(start).not.toBeNull(); // Node: worker_threads
    pool = startSimdPool(memory, [GEMM_FUNCTIONS], start!, () => wanted);
    expect(await pool.started(4000)).toBe(true);
  });
  afterAll(() => pool.close());

  test('starts once per memory and is found by it', async () => {
    expect(pool.active()).toBe(true);
    expect(simdPoolFor(memory)).toBe(pool);
    expect(startSimdPool(memory, [GEMM_FUNCTIONS], (await defaultWorkerFactory())!, () => wanted)).toBe(pool);
    expect(simdPoolFor(sharedMemory())).toBeNull();
  });

  test('splits the calls with the worker: the same result as one thread', () => {
    const rows = 16;
    const { args, error } = problem(memory, rows, 2, 700, 5);
    const before = pool.runs.withWorker;
    // Each thread takes half the rows, as a list of calls (4 rows each).
    const calls = Array.from({ length: rows / 4 }, (_, i) => args(4 * i, 4));
    pool.run(GEMM_FUNCTIONS, 'gemm', calls, 2);
    expect(pool.runs.withWorker).toBe(before + 1);
    expect(error()).toBeLessThan(1e-5);
  });

  test('the worker alone (split 0) computes every call', () => {
    const { args, error } = problem(memory, 8, 1, 300, 9);
    pool.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4), args(4, 4)], 0);
    expect(error()).toBeLessThan(1e-5);
  });

  test("back-to-back runs announced with `more` (the worker waits awake) are each computed", () => {
    for (let i = 0; i < 5; i++) {
      const { args, error } = problem(memory, 8, 1, 50 + i, 40 + i);
      pool.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4), args(4, 4)], 1, i < 4);
      expect(error()).toBeLessThan(1e-5);
    }
  });

  test('runs on this thread alone while the policy does not want threads', () => {
    wanted = false;
    try {
      const { args, error } = problem(memory, 8, 1, 64, 13);
      const before = { ...pool.runs };
      pool.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4), args(4, 4)], 1);
      expect(pool.runs).toEqual({ withWorker: before.withWorker, alone: before.alone + 1 });
      expect(error()).toBeLessThan(1e-5);
    } finally {
      wanted = true;
    }
  });

  test('names a function set or function it was not started with', () => {
    expect(() => pool.run(TRANSPOSE_FUNCTIONS, 'transpose', [[0, 0, 0, 0, 0, 0]], 0)).toThrow(/transpose is not in this SIMD pool/);
    expect(() => pool.run(GEMM_FUNCTIONS, 'gemmm', [[0]], 0)).toThrow(/the SIMD pool has no function gemmm/);
  });

  test("a trap on the worker is the caller's error, and the pool goes on", () => {
    // A out of the memory's bounds: the worker's call traps.
    const far = memory.buffer.byteLength;
    expect(() => pool.run(GEMM_FUNCTIONS, 'gemm', [[far, 16, 0, 0, 0, 4, 1, 4]], 0)).toThrow(/gemm failed on the SIMD pool's worker/);
    const { args, error } = problem(memory, 4, 1, 8, 21);
    pool.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4)], 0);
    expect(error()).toBeLessThan(1e-5);
  });

  test('a worker that never starts: started() says so after its timeout, and runs stay on this thread', async () => {
    const m = sharedMemory();
    const p = startSimdPool(m, [GEMM_FUNCTIONS], () => ({ postMessage: () => undefined, terminate: () => undefined }));
    expect(await p.started(30)).toBe(false);
    const { args, error } = problem(m, 4, 1, 20, 8);
    p.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4)], 0);
    expect(p.runs).toEqual({ withWorker: 0, alone: 1 });
    expect(error()).toBeLessThan(1e-5);
    p.close();
  });

  test('after close, runs stay on this thread and the memory has no pool', async () => {
    const m = sharedMemory();
    const p = startSimdPool(m, [GEMM_FUNCTIONS], (await defaultWorkerFactory())!);
    expect(await p.started(4000)).toBe(true);
    expect(p.active()).toBe(true);
    p.close();
    expect(p.active()).toBe(false);
    expect(simdPoolFor(m)).toBeNull();
    const { args, error } = problem(m, 4, 1, 40, 3);
    p.run(GEMM_FUNCTIONS, 'gemm', [args(0, 4)], 0);
    expect(p.runs).toEqual({ withWorker: 0, alone: 1 });
    expect(error()).toBeLessThan(1e-5);
  });
});
