import type { ValType, WatFunction } from './assemble';
import { whileBelow } from './wat-loop';
import { simdSupported } from './instance';

/** Columns of B per panel (two v128s), and rows of A per tile. */
export const PANEL = 8;
export const TILE_ROWS = 4;

/**
 * Contraction positions per block: a tile's 4 rows of A over the block (4 KB) stay in L1 while it
 * passes over every panel (8 KB of B each); 128 to 1024 measured alike.
 */
export const K_BLOCK = 256;

const i32s = (...names: string[]) => names.map((n) => [n, 'i32'] as [string, ValType]);
const v128s = (...names: string[]) => names.map((n) => [n, 'v128'] as [string, ValType]);
const ROWS = Array.from({ length: TILE_ROWS }, (_, j) => j);
const acc = (j: number, half: number) => `$c${j}${half}`;

/** acc += $s b: one relaxed multiply-add (fused where the CPU has FMA), or a multiply and an add. */
const multiplyAdd = (fused: boolean, accumulator: string, b: string) =>
  fused
    ? `local.get $s local.get ${b} local.get ${accumulator} f32x4.relaxed_madd local.set ${accumulator}`
    : `local.get ${accumulator} local.get $s local.get ${b} f32x4.mul f32x4.add local.set ${accumulator}`;

/** One contraction position u of a tile: C[j, 0:8] += A[j, k + u] B[k + u, 0:8] for the 4 rows j. */
function positionStep(fused: boolean, u: number): string {
  return `
    local.get $pb v128.load offset=${u * 32} local.set $b0
    local.get $pb v128.load offset=${u * 32 + 16} local.set $b1
    ${ROWS.map((j) => `
      local.get $pa${j} v128.load32_splat offset=${u * 4} local.set $s
      ${multiplyAdd(fused, acc(j, 0), '$b0')}
      ${multiplyAdd(fused, acc(j, 1), '$b1')}`).join('')}`;
}

const advance = (positions: number) => `
  ${ROWS.map((j) => `local.get $pa${j} i32.const ${positions * 4} i32.add local.set $pa${j}`).join('\n')}
  local.get $pb i32.const ${positions * 32} i32.add local.set $pb`;

/** C's 4 x 8 tile at $pc: loaded into (store = false) or stored from (true) the accumulators. */
const tileMemory = (store: boolean) =>
  ROWS.map((j) =>
    [0, 1].map((h) => {
      const at = `local.get $pc ${j === 0 ? '' : `local.get $ldc i32.const ${j} i32.mul i32.add`}`;
      return store ? `${at} local.get ${acc(j, h)} v128.store offset=${h * 16}` : `${at} v128.load offset=${h * 16} local.set ${acc(j, h)}`;
    }).join('\n'),
  ).join('\n');

/**
 * gemm(a, lda, b, c, ldc, rows, panels, k): C[r, 8 p + j] += sum_k A[r, k] B_p[k, j] for
 * r < rows (a multiple of 4), p < panels, with A row-major (row r at a + r lda bytes, floats
 * contiguous along k), B packed as `panels` panels [k, 8] one after another (panel p at
 * b + 32 p k), C row-major (row stride ldc bytes). Blocked along k by K_BLOCK; each tile keeps its
 * 4 x 8 sums in eight v128 registers over the block, unrolled four positions at a time. `fused`:
 * relaxed SIMD's f32x4.relaxed_madd in place of a multiply and an add (1.3-1.4x faster here).
 */
function gemm(fused: boolean): WatFunction {
  return {
    name: 'gemm',
    params: i32s('$a', '$lda', '$b', '$c', '$ldc', '$rows', '$panels', '$k'),
    locals: [
      ...i32s('$k0', '$kLen', '$kEnd', '$k4End', '$kk', '$r', '$p', ...ROWS.map((j) => `$pa${j}`), '$pb', '$pc'),
      ...v128s('$b0', '$b1', '$s', ...ROWS.flatMap((j) => [acc(j, 0), acc(j, 1)])),
    ],
    body: `
      ${whileBelow('blocks', '$k0', '$k', '$kLen', `
        local.get $k0 i32.const ${K_BLOCK} i32.add local.get $k
        local.get $k0 i32.const ${K_BLOCK} i32.add local.get $k i32.lt_u select local.set $kEnd
        local.get $kEnd local.get $k0 i32.sub local.set $kLen
        local.get $kEnd local.get $k0 i32.sub i32.const -4 i32.and local.get $k0 i32.add local.set $k4End
        i32.const 0 local.set $r
        ${whileBelow('rowTiles', '$r', '$rows', TILE_ROWS, `
          i32.const 0 local.set $p
          ${whileBelow('panels', '$p', '$panels', 1, `
            local.get $c local.get $r local.get $ldc i32.mul i32.add local.get $p i32.const 32 i32.mul i32.add local.set $pc
            ${tileMemory(false)}
            local.get $a local.get $r local.get $lda i32.mul i32.add local.get $k0 i32.const 2 i32.shl i32.add local.set $pa0
            ${ROWS.slice(1).map((j) => `local.get $pa${j - 1} local.get $lda i32.add local.set $pa${j}`).join('\n')}
            local.get $b local.get $p local.get $k i32.mul i32.const 32 i32.mul i32.add local.get $k0 i32.const 32 i32.mul i32.add local.set $pb
            local.get $k0 local.set $kk
            ${whileBelow('fours', '$kk', '$k4End', 4, `${[0, 1, 2, 3].map((u) => positionStep(fused, u)).join('')} ${advance(4)}`)}
            ${whileBelow('ones', '$kk', '$kEnd', 1, `${positionStep(fused, 0)} ${advance(1)}`)}
            ${tileMemory(true)}`)}`)}`)}`,
  };
}

/** The GEMM of plain SIMD (every wasm SIMD platform). */
export const GEMM_PLAIN: readonly WatFunction[] = [gemm(false)];
/** The GEMM with relaxed SIMD's multiply-add (Chromium; Node 22+, Node 20 behind a V8 flag). */
export const GEMM_FUSED: readonly WatFunction[] = [gemm(true)];

let chosen: readonly WatFunction[] | undefined;

/**
 * The GEMM our kernels run: the fused one where this platform validates relaxed SIMD. Decided at
 * the first call and kept (the SIMD pool's worker holds the same one).
 */
export function gemmFunctions(): readonly WatFunction[] {
  chosen ??= simdSupported(GEMM_FUSED) ? GEMM_FUSED : GEMM_PLAIN;
  return chosen;
}

/** Whether gemmFunctions() has decided yet (a V8 flag set later would not change it). */
export function gemmChosen(): boolean {
  return chosen !== undefined;
}
