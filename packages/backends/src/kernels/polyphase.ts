import type * as tf from '@tensorflow/tfjs';
import type { KernelRunner } from '../kernel-runner';
import { convWithPads } from './conv-geometry';

type TensorInfo = tf.TensorInfo;

/** One output phase along one axis: which filter taps it uses and where dy starts. */
interface Phase {
  /** First flipped-filter tap of this phase (taps r, r + s, ...). */
  r: number;
  /** Number of taps. */
  taps: number;
  /** Conv padding before / after dy (negative: drop rows). */
  pad: [number, number];
}

/**
 * Rows i = a*s + ph of a strided conv's input gradient only see flipped-filter taps
 * k = r, r + s, ... with r = (K - 1 - top - ph) mod s, against dy rows a + j + c. So each phase
 * is a stride-1 conv of dy itself with a sub-filter: no zeros multiplied (the zero-insertion
 * method wastes (s^2 - 1)/s^2 of its work).
 */
function phaseOf(ph: number, k: number, s: number, top: number, outLen: number, dyLen: number): Phase {
  const f = k - 1 - top;
  const r = (((f - ph) % s) + s) % s;
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  const c = (ph + r - f) / s;
  return { r, taps, pad: [-c, outLen + taps - 1 - dyLen + c] };
}

/** Whether the stride-1 conv of a phase is well formed (enough rows for its output). */
function phaseFits(p: Phase, dyLen: number, outLen: number): boolean {
  const computed = dyLen + Math.max(p.pad[0], 0) + Math.max(p.pad[1], 0) - p.taps + 1;
  return p.taps === 0 || (computed >= 1 && computed >= Math.max(-p.pad[0], 0) + outLen);
}

/**
 * dx (NHWC) of a conv with strides (sh, sw) > 1 from dy and the flipped, channel-swapped filter
 * wf [KH, KW, Co, Ci]: one conv per output phase, interleaved. Returns null when some phase is
 * degenerate (tiny inputs), so the caller can use the zero-insertion method.
 */
export function polyphaseInputGrad(
  r: KernelRunner,
  dy: TensorInfo,
  wf: TensorInfo,
  inShape: [number, number, number, number],
  strides: [number, number],
  padTopLeft: [number, number],
): TensorInfo | null {
  const [n, h, w, ci] = inShape;
  const [, ho, wo] = dy.shape;
  const [kh, kw] = wf.shape;
  const [sh, sw] = strides;
  const ha = Math.ceil(h / sh);
  const wa = Math.ceil(w / sw);
  const rows = Array.from({ length: sh }, (_, p) => phaseOf(p, kh, sh, padTopLeft[0], ha, ho));
  const cols = Array.from({ length: sw }, (_, p) => phaseOf(p, kw, sw, padTopLeft[1], wa, wo));
  if (!rows.every((p) => phaseFits(p, ho, ha)) || !cols.every((p) => phaseFits(p, wo, wa))) return null;
  const rowBlocks: TensorInfo[] = [];
  for (const pr of rows) {
    const parts: TensorInfo[] = [];
    for (const pc of cols) {
      let out: TensorInfo;
      if (pr.taps === 0 || pc.taps === 0) {
        out = r.run('Fill', {}, { shape: [n, ha, wa, ci], value: 0, dtype: 'float32' });
      } else {
        const sub = phaseTaps(r, wf, pr, pc, [sh, sw]);
        out = convWithPads(r, 'Conv2D', dy, sub, [1, 1], pr.pad, pc.pad, ha, wa);
      }
      parts.push(r.reshape(out, [n, ha, wa, 1, ci]));
    }
    const row = parts.length === 1 ? parts[0] : r.run('Concat', parts as never, { axis: 3 });
    rowBlocks.push(r.reshape(row, [n, ha, 1, wa * sw * ci]));
  }
  const all = rowBlocks.length === 1 ? rowBlocks[0] : r.run('Concat', rowBlocks as never, { axis: 2 });
  const dx = r.reshape(all, [n, ha * sh, wa * sw, ci]);
  return r.slice(dx, [0, 0, 0, 0], [n, h, w, ci]);
}

/**
 * The sub-filter of a phase: taps (pr.r + i sh, pc.r + j sw) of wf [KH, KW, Co, Ci], as slices of
 * whole [Co, Ci] blocks (contiguous) and concats. Stock wasm's StridedSlice took 4.2 ms for this
 * on a 3x3x64x64 filter (~110 ns per element), 4 times per stride-2 input gradient.
 */
function phaseTaps(r: KernelRunner, wf: TensorInfo, pr: Phase, pc: Phase, [sh, sw]: [number, number]): TensorInfo {
  const [, , co, ci] = wf.shape;
  const rows: TensorInfo[] = [];
  for (let i = 0; i < pr.taps; i++) {
    const taps: TensorInfo[] = [];
    for (let j = 0; j < pc.taps; j++) taps.push(r.slice(wf, [pr.r + i * sh, pc.r + j * sw, 0, 0], [1, 1, co, ci]));
    rows.push(taps.length === 1 ? taps[0] : r.run('Concat', taps as never, { axis: 1 }));
  }
  return rows.length === 1 ? rows[0] : r.run('Concat', rows as never, { axis: 0 });
}
