// Shared by the Node kernel tables and the browser suite (which must not import helpers.ts: it loads wasm).

/** max |a - e| / (max |e| + tiny): the relative error used by every kernel table. */
export function relError(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(e[i]));
  }
  return num / (den + 1e-12);
}
