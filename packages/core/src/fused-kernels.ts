/**
 * Fused kernels a backend package may register (@fewstep/backends does for wasm). Layers ask
 * `tf.getKernel(name, tf.getBackend())` and fall back to their composite of stock ops when a
 * backend has none, so results never depend on whether a fused kernel is present (tested to
 * 1e-4 relative against the composite).
 */

/**
 * EDM's GroupNorm, optionally followed by SiLU. Inputs { x: [B, ..., C], weight: [C], bias: [C] }
 * (float32; `groups` contiguous channel ranges, mean and biased variance per sample and group),
 * attrs {@link GroupNormAttrs}; output y, x's shape.
 */
export const GROUP_NORM_KERNEL = 'FewstepGroupNorm';
/** GroupNorm's gradient: inputs { dy, x, weight, bias }, same attrs; outputs [dx, dweight, dbias]. */
export const GROUP_NORM_GRAD_KERNEL = 'FewstepGroupNormGrad';

export interface GroupNormAttrs {
  /** Number of groups (divides C). */
  groups: number;
  /** Added to the variance. */
  eps: number;
  /** Apply SiLU (x sigmoid(x)) to the normalised output. */
  silu: boolean;
}
