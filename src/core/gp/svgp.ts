/**
 * Sparse variational GP (Hensman et al. 2015, as used in the GPDNN of Bradshaw et al. 2017) with
 * M inducing inputs Z in feature space, whitened parameterisation u = L v (Kzz = L Lᵀ),
 * q(v_c) = N(m_c, S_c), S_c = Lq_c Lq_cᵀ, one latent GP per class sharing Z and the RBF kernel.
 *
 * For inputs X with A = L⁻¹ Kzx:  mean = Aᵀ m,  var_c = diag(Kxx) − Σ_m A² + Σ_m (Lq_cᵀ A)².
 * KL[q(v) ‖ N(0, I)] = ½ Σ_c (tr S_c + m_cᵀ m_c − M − log|S_c|) needs no Kzz at all.
 * L⁻¹ comes from {@link cholInverse} (float64 JS Cholesky, hand-written gradient), so Z and the
 * kernel hyperparameters are trainable; the rest is plain tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { rbf, rbfDiag, type RbfParams } from './kernel';
import { choleskyWithJitterJs, cholInverse, invertLowerJs, lowerMask } from './linalg';
import { robustMaxExpectedLogLik, DEFAULT_BETA, DEFAULT_QUADRATURE_POINTS } from './likelihood';

/** Default jitter added to the diagonal of Kzz, relative to the kernel variance. */
export const DEFAULT_JITTER = 1e-5;

/** The parameters of the SVGP (tensors may be tf.Variables while training). */
export interface SvgpParams {
  /** Inducing inputs, [M, D]. */
  readonly z: tf.Tensor2D;
  readonly kernel: RbfParams;
  /** Whitened variational means, [M, C]. */
  readonly qMu: tf.Tensor2D;
  /** Whitened variational Cholesky factors, [C, M, M]; only the lower triangle is used. */
  readonly qSqrt: tf.Tensor3D;
  /** Diagonal jitter on Kzz, relative to the kernel variance. */
  readonly jitter: number;
}

/** L⁻¹ where L Lᵀ = Kzz + jitter·variance·I, [M, M] (differentiable in Z and the kernel). */
export function inducingInverseFactor(p: Pick<SvgpParams, 'z' | 'kernel' | 'jitter'>): tf.Tensor2D {
  return tf.tidy(() => {
    const m = p.z.shape[0];
    const kzz = tf.add(rbf(p.z, p.z, p.kernel), tf.mul(tf.eye(m), tf.mul(p.kernel.variance, p.jitter))) as tf.Tensor2D;
    return cholInverse(kzz);
  });
}

/**
 * The same L⁻¹ as {@link inducingInverseFactor}, not differentiable, read back asynchronously: for fixed Z
 * and kernel at load time, on backends where a synchronous read is slow or unavailable (WebGPU: no
 * `dataSync` in a service worker or in Node).
 */
export async function inducingInverseFactorAsync(p: Pick<SvgpParams, 'z' | 'kernel' | 'jitter'>): Promise<tf.Tensor2D> {
  const m = p.z.shape[0];
  const kzz = tf.tidy(() => tf.add(rbf(p.z, p.z, p.kernel), tf.mul(tf.eye(m), tf.mul(p.kernel.variance, p.jitter))));
  let data: Float32Array;
  try {
    data = (await kzz.data()) as Float32Array;
  } finally {
    kzz.dispose();
  }
  const { l } = choleskyWithJitterJs(data, m);
  return tf.tensor2d(Float32Array.from(invertLowerJs(l, m)), [m, m]);
}

/** Lower triangles of the qSqrt factors, [C, M, M]. */
export function maskedQSqrt(qSqrt: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => tf.mul(qSqrt, tf.expandDims(lowerMask(qSqrt.shape[1]), 0)) as tf.Tensor3D);
}

/**
 * Marginal predictive mean and variance of every latent f_c at inputs x [B, D]: [B, C] each.
 * `linv` (from {@link inducingInverseFactor}) may be passed in when Z and the kernel are fixed.
 */
export function svgpPredict(p: SvgpParams, x: tf.Tensor2D, linv?: tf.Tensor2D): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
  return tf.tidy(() => {
    const [m, c] = p.qMu.shape;
    const b = x.shape[0];
    const li = linv ?? inducingInverseFactor(p);
    const a = tf.matMul(li, rbf(p.z, x, p.kernel)); // [M, B]
    const mean = tf.matMul(a, p.qMu, true, false) as tf.Tensor2D; // [B, C]
    const lqT = tf.reshape(tf.transpose(maskedQSqrt(p.qSqrt), [0, 2, 1]), [c * m, m]);
    const sa = tf.reshape(tf.matMul(lqT, a), [c, m, b]);
    const posterior = tf.transpose(tf.sum(tf.square(sa), 1)); // [B, C]
    const prior = tf.sub(rbfDiag(x, p.kernel), tf.sum(tf.square(a), 0)); // [B]
    const variance = tf.add(tf.expandDims(prior, 1), posterior) as tf.Tensor2D;
    return { mean, variance };
  });
}

/** Predictive mean only (cheaper than {@link svgpPredict}): Kxz L⁻ᵀ m, [B, C]. Differentiable in x. */
export function svgpPredictMean(p: SvgpParams, x: tf.Tensor2D, linv?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const li = linv ?? inducingInverseFactor(p);
    return tf.matMul(tf.matMul(li, rbf(p.z, x, p.kernel)), p.qMu, true, false) as tf.Tensor2D;
  });
}

/** KL[q(v) ‖ N(0, I)] summed over the C latent GPs (whitened: independent of Kzz). */
export function whitenedKl(qMu: tf.Tensor2D, qSqrt: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const [m, c] = qMu.shape;
    const lq = maskedQSqrt(qSqrt);
    const diag = tf.sum(tf.mul(lq, tf.expandDims(tf.eye(m), 0)), 2); // [C, M]
    const trace = tf.sum(tf.square(lq));
    const mahal = tf.sum(tf.square(qMu));
    const logDet = tf.sum(tf.log(tf.square(diag)));
    return tf.mul(tf.sub(tf.sub(tf.add(trace, mahal), c * m), logDet), 0.5) as tf.Scalar;
  });
}

/** Options of {@link svgpElbo}. */
export interface ElboOptions {
  /** Training-set size N: the minibatch sum is scaled by N / B. */
  readonly n: number;
  readonly beta?: number;
  readonly quadraturePoints?: number;
}

/**
 * Minibatch ELBO of the robust-max SVGP: (N / B) Σ_batch E_q[log p(y | f)] − KL (a scalar to maximise),
 * for features x [B, D] and one-hot labels [B, C]. Also returns its two terms.
 */
export function svgpElbo(p: SvgpParams, x: tf.Tensor2D, oneHot: tf.Tensor2D, opts: ElboOptions):
  { elbo: tf.Scalar; ell: tf.Scalar; kl: tf.Scalar } {
  return tf.tidy(() => {
    const { mean, variance } = svgpPredict(p, x);
    const ell = tf.sum(robustMaxExpectedLogLik(mean, variance, oneHot, opts.beta ?? DEFAULT_BETA,
      opts.quadraturePoints ?? DEFAULT_QUADRATURE_POINTS)) as tf.Scalar;
    const kl = whitenedKl(p.qMu, p.qSqrt);
    const elbo = tf.sub(tf.mul(ell, opts.n / x.shape[0]), kl) as tf.Scalar;
    return { elbo, ell, kl };
  });
}
