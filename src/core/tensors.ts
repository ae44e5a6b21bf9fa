/**
 * Constants for tensor loops that work well on every backend. A JS number in a tfjs op (tf.mul(x, 0.9))
 * or a tf.scalar becomes a tensor uploaded from the CPU; on WebGPU each upload costs about a millisecond
 * through Dawn (measured on an H100: an element-wise add with a number operand 1.27 ms, with a tensor
 * operand 0.037 ms; bench/micro.ts) and ends the current compute pass. tf.fill makes the value on the
 * device instead (a small program with the value as a uniform), and costs nothing extra on cpu or wasm.
 */
import * as tf from '@tensorflow/tfjs';

/** A float32 scalar made on the device (no upload). */
export function deviceScalar(v: number): tf.Scalar {
  return tf.fill([], v, 'float32') as tf.Scalar;
}

/** Named device scalars, made once before a loop; free them with `tf.dispose(Object.values(...))`. */
export function deviceScalars<K extends string>(values: Readonly<Record<K, number>>): Record<K, tf.Scalar> {
  const out = {} as Record<K, tf.Scalar>;
  for (const key of Object.keys(values) as K[]) out[key] = deviceScalar(values[key]);
  return out;
}
