/**
 * Small dense linear algebra for the sparse variational GP of the GPDNN (Bradshaw et al. 2017).
 *
 * tfjs has no Cholesky op. The matrices here are M×M with M = number of inducing points (≈ 50–200),
 * so the factorisation runs in plain JavaScript in float64 (numerically safer than float32), and the
 * result re-enters tfjs as a float32 tensor. {@link cholInverse} is a tfjs op with a hand-written
 * gradient, so inducing inputs Z and kernel hyperparameters can be trained through Kzz; everything
 * downstream of L⁻¹ is ordinary (differentiable) tfjs matmuls.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Lower Cholesky factor L of a symmetric positive-definite n×n matrix (row-major, float64):
 * A = L Lᵀ. Throws if a pivot is not positive (A not numerically PD).
 */
export function choleskyJs(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new Error(`cholesky: matrix not positive definite (pivot ${j}: ${d})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Solves L X = B for lower-triangular L (n×n) and B (n×m), row-major float64. */
export function solveLowerJs(l: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number): Float64Array {
  const x = Float64Array.from(b as ArrayLike<number>);
  for (let i = 0; i < n; i++) {
    const lii = l[i * n + i];
    for (let c = 0; c < m; c++) {
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k * m + c];
      x[i * m + c] = s / lii;
    }
  }
  return x;
}

/** Solves Lᵀ X = B for lower-triangular L (n×n) and B (n×m), row-major float64. */
export function solveUpperTransposedJs(l: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number): Float64Array {
  const x = Float64Array.from(b as ArrayLike<number>);
  for (let i = n - 1; i >= 0; i--) {
    const lii = l[i * n + i];
    for (let c = 0; c < m; c++) {
      let s = x[i * m + c];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k * m + c];
      x[i * m + c] = s / lii;
    }
  }
  return x;
}

/** Inverse of a lower-triangular n×n matrix (row-major float64); the result is lower triangular. */
export function invertLowerJs(l: ArrayLike<number>, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * n + k] * inv[k * n + j];
      inv[i * n + j] = s / l[i * n + i];
    }
  }
  return inv;
}

/**
 * Cholesky with escalating jitter: tries A + jitter·I for jitter = 0, base, 10·base, … (up to
 * `tries` escalations) and returns the first factor that exists, with the extra jitter used.
 */
export function choleskyWithJitterJs(a: ArrayLike<number>, n: number, base = 1e-6, tries = 5): { l: Float64Array; extra: number } {
  let extra = 0;
  for (let t = 0; ; t++) {
    const m = Float64Array.from(a as ArrayLike<number>);
    if (extra > 0) for (let i = 0; i < n; i++) m[i * n + i] += extra;
    try {
      return { l: choleskyJs(m, n), extra };
    } catch (e) {
      if (t >= tries) throw e;
      extra = extra === 0 ? base : extra * 10;
    }
  }
}

/** Lower-triangular 0/1 mask (diagonal included), n×n. */
export function lowerMask(n: number): tf.Tensor2D {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = 1;
  return tf.tensor2d(m, [n, n]);
}

/**
 * L⁻¹ for the lower Cholesky factor L of a symmetric PD matrix K (n×n): a tfjs op, differentiable in K.
 *
 * Forward: Cholesky and triangular inverse in float64 JavaScript (with escalating jitter if K is not
 * numerically PD). Backward: with W = L⁻¹ dK L⁻ᵀ, dL = L Φ(W) (Φ = lower triangle, halved diagonal),
 * so d(L⁻¹) = −Φ(W) L⁻¹ and, for an upstream gradient G, K̄ = −L⁻ᵀ Ψ(G L⁻ᵀ) L⁻¹ with
 * Ψ(H) = ½(tril(H) + tril(H)ᵀ) − ½ diag(H), the adjoint of Φ on symmetric matrices. The gradient is
 * symmetric (K is symmetric). Only matmuls and masks run in tfjs on the backward pass.
 */
export function cholInverse(k: tf.Tensor2D): tf.Tensor2D {
  const n = k.shape[0];
  if (k.shape[1] !== n) throw new Error(`cholInverse: matrix must be square, got ${k.shape.join('x')}`);
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const kk = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { l } = choleskyWithJitterJs(kk.dataSync(), n);
    const inv = tf.tensor2d(Float32Array.from(invertLowerJs(l, n)), [n, n]);
    save([inv]);
    return {
      value: inv,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const linv = saved[0] as tf.Tensor2D;
        return tf.tidy(() => {
          const mask = lowerMask(n);
          const h = tf.matMul(dy as tf.Tensor2D, linv, false, true);
          const lh = tf.mul(h, mask);
          const psi = tf.sub(tf.mul(tf.add(lh, tf.transpose(lh)), 0.5), tf.mul(tf.mul(h, tf.eye(n)), 0.5));
          return tf.neg(tf.matMul(tf.matMul(linv, psi as tf.Tensor2D, true, false), linv));
        });
      },
    };
  }));
  return op(k) as tf.Tensor2D;
}
