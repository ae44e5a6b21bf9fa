/** RBF (squared-exponential) kernel for the GPDNN's sparse variational GP (Bradshaw et al. 2017). */
import * as tf from '@tensorflow/tfjs';

/** Hyperparameters of k(x, x') = variance · exp(−‖x − x'‖² / (2 lengthscale²)); scalars or scalar tensors. */
export interface RbfParams {
  readonly lengthscale: tf.Scalar | number;
  readonly variance: tf.Scalar | number;
}

/** Squared Euclidean distances between the rows of a [n,d] and b [m,d]: [n,m], clamped at 0. */
export function squaredDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const a2 = tf.sum(tf.square(a), 1, true);
    const b2 = tf.sum(tf.square(b), 1, true);
    const ab = tf.matMul(a, b, false, true);
    return tf.relu(tf.sub(tf.add(a2, tf.transpose(b2)), tf.mul(ab, 2))) as tf.Tensor2D;
  });
}

/** RBF Gram matrix K(a, b), [n, m]. Differentiable in a, b and the hyperparameters. */
export function rbf(a: tf.Tensor2D, b: tf.Tensor2D, p: RbfParams): tf.Tensor2D {
  return tf.tidy(() => {
    const d2 = squaredDistances(a, b);
    const ls2 = tf.square(p.lengthscale);
    return tf.mul(p.variance, tf.exp(tf.div(tf.mul(d2, -0.5), ls2))) as tf.Tensor2D;
  });
}

/** Diagonal of K(a, a) for the RBF kernel: the variance, [n]. */
export function rbfDiag(a: tf.Tensor2D, p: RbfParams): tf.Tensor1D {
  return tf.tidy(() => tf.mul(tf.ones([a.shape[0]]), p.variance) as tf.Tensor1D);
}
