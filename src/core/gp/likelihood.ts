/**
 * Robust-max likelihood (Hernández-Lobato et al. 2011) used by the GPDNN of Bradshaw et al. 2017:
 * p(y | f) = 1 − β if y = argmax f, β / (C − 1) otherwise, with C independent latent GPs.
 * Expectations under q(f) = Π_c N(μ_c, σ_c²) use Gauss–Hermite quadrature:
 * P(k = argmax f) = ∫ N(u; μ_k, σ_k²) Π_{c≠k} Φ((u − μ_c) / σ_c) du.
 */
import * as tf from '@tensorflow/tfjs';

/** Default robust-max β (GPflow's RobustMax default epsilon). */
export const DEFAULT_BETA = 1e-3;
/** Default number of Gauss–Hermite points. */
export const DEFAULT_QUADRATURE_POINTS = 20;

/**
 * Gauss–Hermite nodes and weights for ∫ e^{−x²} g(x) dx ≈ Σ w_i g(x_i) (Newton iteration on the
 * normalised Hermite recurrence; Numerical Recipes' gauher), float64, nodes in decreasing order.
 */
export function gaussHermite(n: number): { x: Float64Array; w: Float64Array } {
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  const pim4 = 0.7511255444649425;
  const m = Math.floor((n + 1) / 2);
  let z = 0;
  for (let i = 0; i < m; i++) {
    if (i === 0) z = Math.sqrt(2 * n + 1) - 1.85575 * Math.pow(2 * n + 1, -0.16667);
    else if (i === 1) z -= 1.14 * Math.pow(n, 0.426) / z;
    else if (i === 2) z = 1.86 * z - 0.86 * x[0];
    else if (i === 3) z = 1.91 * z - 0.91 * x[1];
    else z = 2 * z - x[i - 2];
    let pp = 0;
    for (let it = 0; it < 100; it++) {
      let p1 = pim4;
      let p2 = 0;
      for (let j = 0; j < n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / (j + 1)) * p2 - Math.sqrt(j / (j + 1)) * p3;
      }
      pp = Math.sqrt(2 * n) * p2;
      const z1 = z;
      z = z1 - p1 / pp;
      if (Math.abs(z - z1) < 1e-14) break;
    }
    x[i] = z;
    x[n - 1 - i] = -z;
    w[i] = 2 / (pp * pp);
    w[n - 1 - i] = w[i];
  }
  return { x, w };
}

/** Standard normal CDF Φ(z) = ½(1 + erf(z / √2)). */
export function normalCdf(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1), 0.5));
}

/** Smallest standard deviation used (zero-variance inputs become near-deterministic). */
const MIN_VARIANCE = 1e-10;

/**
 * P(k = argmax f) for every class k under independent Gaussians f_c ~ N(mean_c, variance_c):
 * [batch, C], by `points`-point Gauss–Hermite quadrature. Differentiable in mean and variance.
 */
export function argmaxProbabilities(mean: tf.Tensor2D, variance: tf.Tensor2D, points = DEFAULT_QUADRATURE_POINTS): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, c] = mean.shape;
    const gh = gaussHermite(points);
    const nodes = tf.tensor1d(Float32Array.from(gh.x, (v) => v * Math.SQRT2)).reshape([1, 1, points]);
    const weights = tf.tensor1d(Float32Array.from(gh.w, (v) => v / Math.sqrt(Math.PI))).reshape([1, 1, points]);
    const sd = tf.sqrt(tf.maximum(variance, MIN_VARIANCE));
    // u[b,k,i] = mean_k + √2 sd_k x_i
    const u = tf.add(tf.expandDims(mean, 2), tf.mul(tf.expandDims(sd, 2), nodes));
    // z[b,k,i,c] = (u[b,k,i] − mean_c) / sd_c
    const z = tf.div(tf.sub(tf.expandDims(u, 3), tf.reshape(mean, [b, 1, 1, c])), tf.reshape(sd, [b, 1, 1, c]));
    const eye = tf.reshape(tf.eye(c), [1, c, 1, c]);
    const phi = tf.add(tf.mul(normalCdf(z), tf.sub(1, eye)), eye);
    const prodPhi = tf.exp(tf.sum(tf.log(tf.maximum(phi, 1e-30)), 3));
    return tf.sum(tf.mul(prodPhi, weights), 2) as tf.Tensor2D;
  });
}

/**
 * P(y = argmax f) for the one-hot labels [batch, C] only: [batch]. Same quadrature as
 * {@link argmaxProbabilities} at 1/C of its cost (the training path).
 */
export function labelArgmaxProbability(mean: tf.Tensor2D, variance: tf.Tensor2D, oneHot: tf.Tensor2D,
  points = DEFAULT_QUADRATURE_POINTS): tf.Tensor1D {
  return tf.tidy(() => {
    const [b, c] = mean.shape;
    const gh = gaussHermite(points);
    const nodes = tf.tensor1d(Float32Array.from(gh.x, (v) => v * Math.SQRT2)).reshape([1, points]);
    const weights = tf.tensor1d(Float32Array.from(gh.w, (v) => v / Math.sqrt(Math.PI))).reshape([1, points]);
    const sd = tf.sqrt(tf.maximum(variance, MIN_VARIANCE));
    const meanY = tf.sum(tf.mul(mean, oneHot), 1, true); // [B, 1]
    const sdY = tf.sum(tf.mul(sd, oneHot), 1, true);
    const u = tf.add(meanY, tf.mul(sdY, nodes)); // [B, Q]
    const z = tf.div(tf.sub(tf.expandDims(u, 2), tf.reshape(mean, [b, 1, c])), tf.reshape(sd, [b, 1, c])); // [B, Q, C]
    const y = tf.reshape(oneHot, [b, 1, c]);
    const phi = tf.add(tf.mul(normalCdf(z), tf.sub(1, y)), y);
    const prodPhi = tf.exp(tf.sum(tf.log(tf.maximum(phi, 1e-30)), 2)); // [B, Q]
    return tf.sum(tf.mul(prodPhi, weights), 1) as tf.Tensor1D;
  });
}

/**
 * E_q[log p(y | f)] of the robust-max likelihood for one-hot labels [batch, C]: [batch].
 * Equals P(y = argmax) log(1 − β) + (1 − P) log(β / (C − 1)).
 */
export function robustMaxExpectedLogLik(mean: tf.Tensor2D, variance: tf.Tensor2D, oneHot: tf.Tensor2D,
  beta = DEFAULT_BETA, points = DEFAULT_QUADRATURE_POINTS): tf.Tensor1D {
  return tf.tidy(() => {
    const c = mean.shape[1];
    const p = labelArgmaxProbability(mean, variance, oneHot, points);
    const hit = Math.log(1 - beta);
    const miss = Math.log(beta / (c - 1));
    return tf.add(tf.mul(p, hit - miss), miss) as tf.Tensor1D;
  });
}

/**
 * Predictive class probabilities p(y = k) = (1 − β) P_k + β/(C − 1) (1 − P_k), P_k = P(k = argmax f),
 * renormalised to sum to 1 (absorbs the quadrature error): [batch, C].
 */
export function robustMaxPredictive(mean: tf.Tensor2D, variance: tf.Tensor2D, beta = DEFAULT_BETA,
  points = DEFAULT_QUADRATURE_POINTS): tf.Tensor2D {
  return tf.tidy(() => {
    const c = mean.shape[1];
    const p = argmaxProbabilities(mean, variance, points);
    const probs = tf.add(tf.mul(p, 1 - beta - beta / (c - 1)), beta / (c - 1));
    return tf.div(probs, tf.sum(probs, 1, true)) as tf.Tensor2D;
  });
}
