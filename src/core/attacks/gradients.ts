import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../models/types';

/**
 * ∇ₓ J(x, y) for the softmax cross-entropy J = −log softmax(Z(x))_y, per example (summed loss).
 * Computed as the vector–Jacobian product of the logits with dJ/dZ = softmax(Z) − onehot(y),
 * where the y entry is formed as −Σ_{j≠y} p_j: keeps its full relative precision in float32
 * even when p_y rounds to 1 (confident examples, logit gap ≳ 16), where 1 − p_y would be 0.
 */
export function crossEntropyGradient(model: Classifier, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, model.classNames.length);
    const p = tf.softmax(model.logits(x));
    const others = tf.mul(p, tf.sub(1, oneHot));
    const dJdZ = tf.sub(others, tf.mul(oneHot, tf.sum(others, 1, true)));
    return tf.grad((xi: tf.Tensor) => model.logits(xi as tf.Tensor4D))(x, dJdZ) as tf.Tensor4D;
  });
}
