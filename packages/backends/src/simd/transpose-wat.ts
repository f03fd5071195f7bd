import type { ValType, WatFunction } from './assemble';
import { whileBelow } from './wat-loop';

/** f32 lanes picked from two v128s (0-3 the first, 4-7 the second) as i8x16.shuffle's 16 bytes. */
const lanes = (...picks: number[]) => `i8x16.shuffle ${picks.flatMap((p) => [0, 1, 2, 3].map((b) => 4 * p + b)).join(' ')}`;

/** Columns per tile of blocks (see the body). */
const TILE = 16;

/** One float from src (byte address left by `from`) to dst (left by `to`). */
const copyFloat = (from: string, to: string) => `${to} ${from} f32.load f32.store`;

/**
 * transpose(src, dst, rows, cols, srcStride, dstStride): dst[c, r] = src[r, c] for r < rows,
 * c < cols, strides in bytes. 4x4 blocks in registers (two rounds of lane shuffles), the
 * rows % 4 and cols % 4 edges one float at a time.
 */
function transpose(): WatFunction {
  const at = (base: string, stride: string, j: number) =>
    j === 0 ? `local.get ${base}` : `local.get ${base} local.get ${stride} i32.const ${j} i32.mul i32.add`;
  const edge = (rFrom: string, rTo: string, cFrom: string, label: string) => `
    local.get ${rFrom} local.set $i
    ${whileBelow(`${label}Rows`, '$i', rTo, 1, `
      local.get ${cFrom} local.set $j
      ${whileBelow(`${label}Cols`, '$j', '$cols', 1, copyFloat(
        'local.get $src local.get $i local.get $srcStride i32.mul i32.add local.get $j i32.const 2 i32.shl i32.add',
        'local.get $dst local.get $j local.get $dstStride i32.mul i32.add local.get $i i32.const 2 i32.shl i32.add',
      ))}`)}`;
  const v: [string, ValType][] = ['$r0', '$r1', '$r2', '$r3', '$t0', '$t1', '$t2', '$t3'].map((n) => [n, 'v128']);
  return {
    name: 'transpose',
    params: ['$src', '$dst', '$rows', '$cols', '$srcStride', '$dstStride'].map((n) => [n, 'i32'] as [string, ValType]),
    locals: [['$r', 'i32'], ['$c', 'i32'], ['$c0', 'i32'], ['$cEnd', 'i32'], ['$i', 'i32'], ['$j', 'i32'], ['$s', 'i32'], ['$d', 'i32'], ['$rows4', 'i32'], ['$cols4', 'i32'], ...v],
    body: `
      local.get $rows i32.const -4 i32.and local.set $rows4
      local.get $cols i32.const -4 i32.and local.set $cols4
      ;; Column tiles of TILE: the 4x4 blocks of a tile write TILE destination rows, few enough
      ;; to stay in L1 when the destination stride is a power of two (a [256, 256] matrix).
      ${whileBelow('tiles', '$c0', '$cols4', TILE, `
        local.get $c0 i32.const ${TILE} i32.add local.get $cols4
        local.get $c0 i32.const ${TILE} i32.add local.get $cols4 i32.lt_u select local.set $cEnd
        i32.const 0 local.set $r
        ${whileBelow('blockRows', '$r', '$rows4', 4, `
          local.get $c0 local.set $c
          ${whileBelow('blockCols', '$c', '$cEnd', 4, `
            local.get $src local.get $r local.get $srcStride i32.mul i32.add local.get $c i32.const 2 i32.shl i32.add local.set $s
            ${[0, 1, 2, 3].map((j) => `${at('$s', '$srcStride', j)} v128.load local.set $r${j}`).join('\n')}
            local.get $r0 local.get $r1 ${lanes(0, 4, 1, 5)} local.set $t0
            local.get $r0 local.get $r1 ${lanes(2, 6, 3, 7)} local.set $t1
            local.get $r2 local.get $r3 ${lanes(0, 4, 1, 5)} local.set $t2
            local.get $r2 local.get $r3 ${lanes(2, 6, 3, 7)} local.set $t3
            local.get $dst local.get $c local.get $dstStride i32.mul i32.add local.get $r i32.const 2 i32.shl i32.add local.set $d
            ${at('$d', '$dstStride', 0)} local.get $t0 local.get $t2 ${lanes(0, 1, 4, 5)} v128.store
            ${at('$d', '$dstStride', 1)} local.get $t0 local.get $t2 ${lanes(2, 3, 6, 7)} v128.store
            ${at('$d', '$dstStride', 2)} local.get $t1 local.get $t3 ${lanes(0, 1, 4, 5)} v128.store
            ${at('$d', '$dstStride', 3)} local.get $t1 local.get $t3 ${lanes(2, 3, 6, 7)} v128.store`)}`)}`)}
      ;; the cols % 4 edge of the block rows, then the rows % 4 edge (all columns)
      i32.const 0 local.set $c
      ${edge('$c', '$rows4', '$cols4', 'colEdge')}
      ${edge('$rows4', '$rows', '$c', 'rowEdge')}`,
  };
}

/**
 * copyRuns(src, dst, count, run, srcStride, dstStride): `count` runs of `run` 4-byte elements,
 * the i-th from src + i srcStride to dst + i dstStride (bytes; strides may be negative): 16
 * bytes at a time, then one element at a time, as integers (bit-exact for any float or int32).
 */
function copyRuns(): WatFunction {
  return {
    name: 'copyRuns',
    params: ['$src', '$dst', '$count', '$run', '$srcStride', '$dstStride'].map((n) => [n, 'i32'] as [string, ValType]),
    locals: [['$i', 'i32'], ['$k', 'i32'], ['$bytes', 'i32'], ['$vecBytes', 'i32']],
    body: `
      local.get $run i32.const 2 i32.shl local.set $bytes
      local.get $bytes i32.const -16 i32.and local.set $vecBytes
      ${whileBelow('runs', '$i', '$count', 1, `
        i32.const 0 local.set $k
        ${whileBelow('vec', '$k', '$vecBytes', 16, 'local.get $dst local.get $k i32.add local.get $src local.get $k i32.add v128.load v128.store')}
        ${whileBelow('tail', '$k', '$bytes', 4, 'local.get $dst local.get $k i32.add local.get $src local.get $k i32.add i32.load i32.store')}
        local.get $src local.get $srcStride i32.add local.set $src
        local.get $dst local.get $dstStride i32.add local.set $dst`)}`,
  };
}

/** Data-movement kernels: the batched matrix transpose and the strided run copy. */
export const TRANSPOSE_FUNCTIONS: readonly WatFunction[] = [transpose(), copyRuns()];
