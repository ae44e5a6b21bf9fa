import * as tf from '@tensorflow/tfjs';

/** Untargeted success: the prediction differs from `labels`. Returns a bool tensor [n]. */
export function misclassified(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.notEqual(tf.argMax(logits, 1), tf.cast(labels, 'int32')) as tf.Tensor1D);
}

/** Targeted success: the prediction equals `targets`. Returns a bool tensor [n]. */
export function targetedMisclassified(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.equal(tf.argMax(logits, 1), tf.cast(targets, 'int32')) as tf.Tensor1D);
}

/** Success of an attack whose goal is given by `targeted`. */
export function attackSucceeded(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted: boolean): tf.Tensor1D {
  return targeted ? targetedMisclassified(logits, labels) : misclassified(logits, labels);
}
