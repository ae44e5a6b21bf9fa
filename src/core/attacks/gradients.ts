import * as tf from '@tensorflow/tfjs';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';
import { deviceScalar } from '../tensors';

/**
 * dJ/dZ of the softmax cross-entropy J = −log softmax(Z)_y: softmax(Z) − onehot(y), with the y entry
 * formed as −Σ_{j≠y} p_j — it keeps its full relative precision in float32 even when p_y rounds to 1
 * (confident examples, logit gap ≳ 16), where 1 − p_y would be 0.
 */
function crossEntropyDz(z: tf.Tensor, oneHot: tf.Tensor): tf.Tensor {
  const p = tf.softmax(z);
  const others = tf.sub(p, tf.mul(p, oneHot)); // p ⊙ (1 − onehot), with no JS number (an upload per call on WebGPU)
  return tf.sub(others, tf.mul(oneHot, tf.sum(others, 1, true)));
}

/**
 * A scalar whose gradient with respect to the logits is exactly crossEntropyDz(Z, onehot) (its
 * value, Σ dJ/dZ ⊙ Z, is not used). Lets tf.grad produce ∇ₓJ as one forward and one backward pass.
 */
const crossEntropySurrogate = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [z, oneHot, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const dz = crossEntropyDz(z, oneHot);
  save([dz]);
  return {
    value: tf.sum(tf.mul(dz, z)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]), tf.zerosLike(oneHot)],
  };
});

/**
 * ∇ₓ J(x, y) for the softmax cross-entropy J = −log softmax(Z(x))_y, per example (summed loss): the
 * vector–Jacobian product of the logits with the stable dJ/dZ above, in one forward and one backward
 * pass of the model (the model's tape-free `logitsAndVjp` where it has one). Without `labels`, y is
 * the model's own prediction.
 */
export function crossEntropyGradient(model: Classifier, x: tf.Tensor4D, labels?: tf.Tensor1D): tf.Tensor4D {
  const k = model.classNames.length;
  const vjp = tapeFreeVjp(model);
  if (vjp) {
    return tf.tidy(() => {
      // Without labels, the model's own predictions, taken from the same forward pass.
      const seed = (z: tf.Tensor2D): tf.Tensor2D => crossEntropyDz(z, tf.oneHot(labels ? (tf.cast(labels, 'int32') as tf.Tensor1D) : (tf.argMax(z, 1) as tf.Tensor1D), k)) as tf.Tensor2D;
      return vjp(x, seed).grad;
    });
  }
  if (!labels) return tf.tidy(() => crossEntropyGradient(model, x, tf.argMax(model.logits(x), 1) as tf.Tensor1D));
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, model.classNames.length);
    // dy made on the device: tf.grad's default seed is an upload (src/core/tensors.ts).
    return tf.grad((xi: tf.Tensor) => crossEntropySurrogate(model.logits(xi as tf.Tensor4D), oneHot) as tf.Scalar)(x, deviceScalar(1)) as tf.Tensor4D;
  });
}
