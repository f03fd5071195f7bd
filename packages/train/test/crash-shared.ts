/** Tensors the crash child writes: ~1.2 MB per checkpoint so a kill often lands mid-write. */
export const CRASH_SHAPES: [string, number[]][] = [
  ['a', [256, 512]],
  ['b', [64, 64, 3, 3]],
  ['c', [7]],
];

/** Element i of tensor `name` at step s: exactly representable in float32. */
export function expectedValue(step: number, name: string, i: number): number {
  return step * 1000 + name.charCodeAt(0) + (i % 97) / 8;
}
