/** max |got − want| / max |want| over two arrays of the same length (Infinity if want is all zero). */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} ≠ ${want.length}`);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  return maxRef > 0 ? maxErr / maxRef : Number.POSITIVE_INFINITY;
}
