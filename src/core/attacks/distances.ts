import * as tf from '@tensorflow/tfjs';

/** A component counts as changed for L0 when it moved by more than this. */
export const L0_TOLERANCE = 1e-6;

/** Per-example L0 (changed components), L2 and L∞ distances between two batches [n, …]. */
export function distances(a: tf.Tensor, b: tf.Tensor): { l0: tf.Tensor1D; l2: tf.Tensor1D; linf: tf.Tensor1D } {
  return tf.tidy(() => {
    const n = a.shape[0] ?? 1;
    const d = tf.sub(a, b).reshape([n, -1]);
    const ad = tf.abs(d);
    return {
      l0: tf.sum(tf.cast(tf.greater(ad, L0_TOLERANCE), 'float32'), 1) as tf.Tensor1D,
      l2: tf.sqrt(tf.sum(tf.square(d), 1)) as tf.Tensor1D,
      linf: tf.max(ad, 1) as tf.Tensor1D,
    };
  });
}

/** The same three distances over plain arrays (one example). */
export function distancesOf(a: ArrayLike<number>, b: ArrayLike<number>): { l0: number; l2: number; linf: number } {
  if (a.length !== b.length) throw new RangeError('distancesOf: length mismatch');
  let l0 = 0;
  let sq = 0;
  let linf = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > L0_TOLERANCE) l0++;
    sq += d * d;
    if (d > linf) linf = d;
  }
  return { l0, l2: Math.sqrt(sq), linf };
}
