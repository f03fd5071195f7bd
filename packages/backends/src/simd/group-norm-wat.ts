import type { ValType, WatFunction } from './assemble';
import { whileBelow } from './wat-loop';

/**
 * WebAssembly SIMD passes of a fused GroupNorm (+ SiLU), forward and backward, over one sample
 * laid out [P positions, C channels] (channels innermost, as tfjs's NHWC). Each pass is one sweep
 * over the activation; per-channel operands (statistics, coefficients) are C-long arrays on the
 * heap. Channels go 4 at a time, then one at a time for C % 4 (the same code on lane 0).
 * Pointers and sizes are in bytes.
 */

/** How a pass body reads and writes memory: 4 channels at a time, or one (on lane 0). */
interface Access {
  /** Leaves the v128 at the address the code `at` leaves. */
  load(at: string): string;
  /** Stores the v128 left by `value` at the address left by `at`. */
  store(at: string, value: string): string;
}
const VECTOR: Access = {
  load: (at) => `${at} v128.load`,
  store: (at, value) => `${at} ${value} v128.store`,
};
const LANE0: Access = {
  load: (at) => `${at} v128.load32_splat`,
  store: (at, value) => `${at} ${value} f32x4.extract_lane 0 f32.store`,
};

const splat = (x: number) => `v128.const f32x4 ${x} ${x} ${x} ${x}`;

/**
 * sigmoid(z) = 1 / (1 + exp(-z)) of the v128 in local $z, left on the stack (locals $u, $n, $r).
 * exp(u) = 2^n p(r) with n = round(u / ln 2), r = u - n ln 2 (ln 2 split in two for exactness),
 * p = Taylor series to r^6 (|r| <= ln 2 / 2: relative error < 2e-7); u clamped to [-87, 88] so
 * that 2^n stays a normal float. n is rounded by adding 1.5 * 2^23, which leaves n in the low
 * bits of the sum: shifted into the exponent field and added to 1.0's bits, they give 2^n.
 * pmin / pmax and this rounding map to single x64 instructions (min / max / nearest / trunc_sat
 * are instruction sequences in V8).
 */
const ROUNDER = 12582912; // 1.5 * 2^23
const SIGMOID = `
  local.get $z f32x4.neg ${splat(-87)} f32x4.pmax ${splat(88)} f32x4.pmin local.set $u
  local.get $u ${splat(Math.LOG2E)} f32x4.mul ${splat(ROUNDER)} f32x4.add local.set $n
  local.get $n ${splat(ROUNDER)} f32x4.sub local.set $r
  local.get $u local.get $r ${splat(0.693145751953125)} f32x4.mul f32x4.sub
  local.get $r ${splat(1.4286067653302e-6)} f32x4.mul f32x4.sub local.set $r
  local.get $r ${splat(1 / 720)} f32x4.mul ${splat(1 / 120)} f32x4.add
  local.get $r f32x4.mul ${splat(1 / 24)} f32x4.add
  local.get $r f32x4.mul ${splat(1 / 6)} f32x4.add
  local.get $r f32x4.mul ${splat(0.5)} f32x4.add
  local.get $r f32x4.mul ${splat(1)} f32x4.add
  local.get $r f32x4.mul ${splat(1)} f32x4.add
  local.get $n i32.const 23 i32x4.shl ${splat(1)} i32x4.add
  f32x4.mul ${splat(1)} f32x4.add local.set $u
  ${splat(1)} local.get $u f32x4.div`;
const SIGMOID_LOCALS: [string, ValType][] = [['$z', 'v128'], ['$u', 'v128'], ['$n', 'v128'], ['$r', 'v128']];

/**
 * A pass over rows p < P of C channels: `body(access)` runs for channel byte offset $k of row
 * byte offset $row, 16 bytes (4 channels) at a time, then 4 bytes at a time for the C % 4 rest.
 * Params include $P and $C; `rowPointers` (params) are advanced to each row as $<name>Row.
 */
function pass(
  name: string,
  params: string[],
  rowPointers: string[],
  body: (a: Access) => string,
  extraLocals: [string, ValType][] = [],
): WatFunction {
  const rowLocals = rowPointers.map((p) => [`${p}Row`, 'i32'] as [string, ValType]);
  const setRows = rowPointers.map((p) => `local.get ${p} local.get $row i32.add local.set ${p}Row`).join('\n');
  const { code, constants } = hoistConstants(`
        ${whileBelow('vec', '$k', '$vecEnd', 16, body(VECTOR))}
        ${whileBelow('tail', '$k', '$rowBytes', 4, body(LANE0))}`);
  return {
    name,
    params: [...params, '$P', '$C'].map((p) => [p, 'i32'] as [string, ValType]),
    locals: [['$row', 'i32'], ['$end', 'i32'], ['$k', 'i32'], ['$vecEnd', 'i32'], ['$rowBytes', 'i32'], ...rowLocals, ...extraLocals,
      ...constants.map(([local]) => [local, 'v128'] as [string, ValType])],
    body: `
      ${constants.map(([local, value]) => `${value} local.set ${local}`).join('\n')}
      local.get $C i32.const 2 i32.shl local.set $rowBytes
      local.get $C i32.const -4 i32.and i32.const 2 i32.shl local.set $vecEnd
      local.get $P local.get $rowBytes i32.mul local.set $end
      ${whileBelow('rows', '$row', '$end', '$rowBytes', `
        ${setRows}
        i32.const 0 local.set $k
        ${code}`)}`,
  };
}

/**
 * Each distinct v128.const of `code` read from a local set once before the loops (V8 otherwise
 * rebuilds every constant on every iteration).
 */
function hoistConstants(code: string): { code: string; constants: [string, string][] } {
  const constants: [string, string][] = [];
  const hoisted = code.replace(/v128\.const f32x4( \S+){4}/g, (value) => {
    let entry = constants.find(([, v]) => v === value);
    if (entry === undefined) constants.push((entry = [`$const${constants.length}`, value]));
    return `local.get ${entry[0]}`;
  });
  return { code: hoisted, constants };
}

const at = (base: string) => `local.get ${base} local.get $k i32.add`;
/** acc[k] += value (the code leaving a v128). */
const accumulate = (a: Access, acc: string, value: string) => a.store(at(acc), `${a.load(at(acc))} ${value} f32x4.add`);

function groupNormPasses(): WatFunction[] {
  // The normalised value z = (x - mean) scale + bias (scale = rstd weight), its centred x in $c.
  const normalised = (a: Access) =>
    `${a.load(at('$xRow'))} ${a.load(at('$mean'))} f32x4.sub local.tee $c
     ${a.load(at('$scale'))} f32x4.mul ${a.load(at('$bias'))} f32x4.add`;
  const affine = (silu: boolean) =>
    pass(silu ? 'affineSilu' : 'affine', ['$x', '$y', '$mean', '$scale', '$bias'], ['$x', '$y'], (a) =>
      silu
        ? `${normalised(a)} local.set $z ${a.store(at('$yRow'), `local.get $z ${SIGMOID} f32x4.mul`)}`
        : a.store(at('$yRow'), normalised(a)),
    [['$c', 'v128'], ...SIGMOID_LOCALS]);
  const gradSums = (silu: boolean) =>
    pass(silu ? 'gradSumsSilu' : 'gradSums', ['$x', '$dy', '$dz', '$mean', '$scale', '$bias', '$sumD', '$sumS'], ['$x', '$dy', '$dz'], (a) => {
      // SiLU's gradient: dz = dy (s + z s (1 - s)), s = sigmoid(z).
      const dz = silu
        ? `${normalised(a)} local.set $z
           ${SIGMOID} local.set $s
           local.get $z local.get $s f32x4.mul ${splat(1)} local.get $s f32x4.sub f32x4.mul local.get $s f32x4.add
           ${a.load(at('$dyRow'))} f32x4.mul local.set $g
           ${a.store(at('$dzRow'), 'local.get $g')}`
        : `${a.load(at('$dyRow'))} local.set $g ${a.load(at('$xRow'))} ${a.load(at('$mean'))} f32x4.sub local.set $c`;
      return `${dz}
        ${accumulate(a, '$sumD', 'local.get $g')}
        ${accumulate(a, '$sumS', 'local.get $g local.get $c f32x4.mul')}`;
    }, [['$c', 'v128'], ['$g', 'v128'], ['$s', 'v128'], ...SIGMOID_LOCALS]);
  return [
    // sum[c] += x[p, c]
    pass('sums', ['$x', '$sum'], ['$x'], (a) => accumulate(a, '$sum', a.load(at('$xRow')))),
    // sum[c] += (x[p, c] - mean[c])^2
    pass('centredSquares', ['$x', '$mean', '$sum'], ['$x'], (a) =>
      accumulate(a, '$sum', `${a.load(at('$xRow'))} ${a.load(at('$mean'))} f32x4.sub local.tee $c local.get $c f32x4.mul`),
    [['$c', 'v128']]),
    // y = (x - mean) scale + bias (then y sigmoid(y))
    affine(false),
    affine(true),
    // dz = dy (through SiLU's gradient), sumD[c] += dz, sumS[c] += dz (x - mean)
    gradSums(false),
    gradSums(true),
    // dx = dz k1 + (x - mean) k2 + k3
    pass('gradApply', ['$dz', '$x', '$dx', '$mean', '$k1', '$k2', '$k3'], ['$dz', '$x', '$dx'], (a) =>
      a.store(at('$dxRow'), `${a.load(at('$dzRow'))} ${a.load(at('$k1'))} f32x4.mul
        ${a.load(at('$xRow'))} ${a.load(at('$mean'))} f32x4.sub ${a.load(at('$k2'))} f32x4.mul f32x4.add
        ${a.load(at('$k3'))} f32x4.add`)),
  ];
}

export const GROUP_NORM_PASSES: readonly WatFunction[] = groupNormPasses();
