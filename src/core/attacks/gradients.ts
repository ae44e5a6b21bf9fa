import * as tf from '@tensorflow/tfjs';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';
import { crossEntropyDz, crossEntropyDzOfOneHot } from '../kernels/fused';
import { deviceScalar } from '../tensors';

/**
 * A scalar whose gradient with respect to the logits is exactly dJ/dZ (crossEntropyDz, kernels/fused.ts;
 * its value, Σ dJ/dZ ⊙ Z, is not used). Lets tf.grad produce ∇ₓJ as one forward and one backward pass.
 */
const crossEntropySurrogate = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [z, oneHot, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const dz = crossEntropyDzOfOneHot(z as tf.Tensor2D, oneHot);
  save([dz]);
  return {
    value: tf.sum(tf.mul(dz, z)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]), tf.zerosLike(oneHot)],
  };
});

/**
 * ∇ₓ J(x, y) for the softmax cross-entropy J = −log softmax(Z(x))_y, per example (summed loss): the
 * vector–Jacobian product of the logits with the stable dJ/dZ of crossEntropyDz, in one forward and one backward
 * pass of the model (the model's tape-free `logitsAndVjp` where it has one). Without `labels`, y is
 * the model's own prediction.
 */
export function crossEntropyGradient(model: Classifier, x: tf.Tensor4D, labels?: tf.Tensor1D): tf.Tensor4D {
  const vjp = tapeFreeVjp(model);
  if (vjp) {
    return tf.tidy(() => {
      // Without labels, the model's own predictions, taken from the same forward pass (one fused kernel on WebGPU and WebGL).
      const seed = (z: tf.Tensor2D): tf.Tensor2D => crossEntropyDz(z, labels);
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
