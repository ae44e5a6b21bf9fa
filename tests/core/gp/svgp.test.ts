import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { rbf } from '../../../src/core/gp/kernel';
import { argmaxProbabilities, gaussHermite, robustMaxExpectedLogLik, robustMaxPredictive } from '../../../src/core/gp/likelihood';
import { inducingInverseFactor, inducingInverseFactorAsync, svgpElbo, svgpPredict, whitenedKl, type SvgpParams } from '../../../src/core/gp/svgp';
import { mulberry32 } from '../../../training/common';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randn(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const u = Math.max(r(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  });
}

/** Prior q(v) = N(0, I) with M inducing points in D dims and C classes. */
function priorParams(m: number, d: number, c: number, seed = 1): SvgpParams {
  const eye = tf.tile(tf.expandDims(tf.eye(m), 0), [c, 1, 1]) as tf.Tensor3D;
  return {
    z: tf.tensor2d(randn(m * d, seed), [m, d]),
    kernel: { lengthscale: 1.5, variance: 2 },
    qMu: tf.zeros([m, c]),
    qSqrt: eye,
    jitter: 1e-6,
  };
}

describe('whitened KL[q(v) || N(0, I)]', () => {
  it('is 0 when q is the prior', () => {
    const p = priorParams(5, 3, 4);
    expect(whitenedKl(p.qMu, p.qSqrt).dataSync()[0]).toBeCloseTo(0, 5);
  });

  it('matches the closed form in 1-D: ½(s² + m² − 1 − log s²)', () => {
    const kl = whitenedKl(tf.tensor2d([[0.7]]), tf.tensor3d([[[0.5]]])).dataSync()[0];
    expect(kl).toBeCloseTo(0.5 * (0.25 + 0.49 - 1 - Math.log(0.25)), 6);
  });

  it('matches the closed form in 2-D with a full covariance (upper triangle of qSqrt ignored)', () => {
    // Lq = [[1, 0], [0.5, 2]] → S = [[1, 0.5], [0.5, 4.25]], log|S| = log 4, tr S = 5.25; m = (1, −2).
    const qSqrt = tf.tensor3d([[[1, 99], [0.5, 2]]]);
    const kl = whitenedKl(tf.tensor2d([[1], [-2]]), qSqrt).dataSync()[0];
    expect(kl).toBeCloseTo(0.5 * (5.25 + 5 - 2 - Math.log(4)), 5);
  });
});

describe('SVGP predictive', () => {
  it('the asynchronous L⁻¹ (load time, no synchronous read) equals the differentiable one, and L⁻¹ Kzz L⁻ᵀ = I', async () => {
    const p = priorParams(12, 4, 2, 7);
    const before = tf.memory().numTensors;
    const a = await inducingInverseFactorAsync(p);
    expect(tf.memory().numTensors).toBe(before + 1);
    const b = inducingInverseFactor(p);
    const ad = a.dataSync();
    const bd = b.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < ad.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ad[i] - bd[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    const k = tf.add(rbf(p.z, p.z, p.kernel), tf.mul(tf.eye(12), 2 * p.jitter)) as tf.Tensor2D;
    const id = tf.matMul(tf.matMul(a, k), a, false, true).dataSync();
    for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) expect(id[i * 12 + j]).toBeCloseTo(i === j ? 1 : 0, 3);
    tf.dispose([a, b, k]);
  });
  it('with q = prior gives mean 0 and variance k(z, z) at inducing points', () => {
    const p = priorParams(8, 3, 2);
    const { mean, variance } = svgpPredict(p, p.z);
    for (const v of mean.dataSync()) expect(v).toBeCloseTo(0, 6);
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(2, 3);
  });

  it('with m = 0 has zero mean anywhere, and variance k(x,x) − Kxz Kzz⁻¹ Kzx + Kxz L⁻ᵀ S L⁻¹ Kzx', () => {
    const p = { ...priorParams(6, 2, 3, 5), qSqrt: tf.mul(tf.tile(tf.expandDims(tf.eye(6), 0), [3, 1, 1]), 0.1) as tf.Tensor3D };
    const x = tf.tensor2d(randn(4 * 2, 9), [4, 2]);
    const { mean, variance } = svgpPredict(p, x);
    for (const v of mean.dataSync()) expect(v).toBeCloseTo(0, 6);
    // S = 0.01 I in whitened space → var = k − (1 − 0.01) Kxz Kzz⁻¹ Kzx.
    const kzz = tf.add(rbf(p.z, p.z, p.kernel), tf.mul(tf.eye(6), 2e-6));
    const kxz = rbf(x, p.z, p.kernel);
    const kinv = tf.tensor2d(invert(kzz.arraySync() as number[][]));
    const quad = tf.sum(tf.mul(tf.matMul(kxz, kinv), kxz), 1).dataSync();
    const v = variance.arraySync() as number[][];
    for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) expect(v[i][c]).toBeCloseTo(2 - 0.99 * quad[i], 3);
  });

  it('whitened mean equals Kxz Kzz⁻¹ u with u = L m (unwhitened check)', () => {
    const p0 = priorParams(5, 2, 1, 4);
    const u = tf.tensor2d([[1], [-1], [0.5], [2], [0]]);
    const kzz = tf.add(rbf(p0.z, p0.z, p0.kernel), tf.mul(tf.eye(5), 2e-6));
    const l = tf.linalg.bandPart(choleskyTensor(kzz as tf.Tensor2D), -1, 0);
    const m = tf.tensor2d(solveLower(l.arraySync() as number[][], [1, -1, 0.5, 2, 0]).map((v) => [v]));
    const x = tf.tensor2d(randn(3 * 2, 8), [3, 2]);
    const got = svgpPredict({ ...p0, qMu: m }, x).mean.dataSync();
    const want = tf.matMul(tf.matMul(rbf(x, p0.z, p0.kernel), tf.tensor2d(invert(kzz.arraySync() as number[][]))), u).dataSync();
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(want[i], 3);
  });

  it('ELBO = (N/B)·ΣELL − KL and is differentiable in Z, kernel and q', () => {
    const zv = tf.variable(tf.tensor2d(randn(6 * 2, 2), [6, 2]));
    const ls = tf.variable(tf.scalar(1.2));
    const mu = tf.variable(tf.tensor2d(randn(6 * 3, 3), [6, 3]));
    const sq = tf.variable(tf.mul(tf.tile(tf.expandDims(tf.eye(6), 0), [3, 1, 1]), 0.5) as tf.Tensor3D);
    const x = tf.tensor2d(randn(4 * 2, 4), [4, 2]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3) as tf.Tensor2D;
    const params = (): SvgpParams => ({ z: zv, kernel: { lengthscale: ls, variance: 1.5 }, qMu: mu, qSqrt: sq, jitter: 1e-6 });
    const { elbo, ell, kl } = svgpElbo(params(), x, y, { n: 100 });
    expect(elbo.dataSync()[0]).toBeCloseTo(25 * ell.dataSync()[0] - kl.dataSync()[0], 2);
    const { grads } = tf.variableGrads(() => tf.neg(svgpElbo(params(), x, y, { n: 100 }).elbo) as tf.Scalar, [zv, ls, mu, sq]);
    for (const g of Object.values(grads)) {
      const d = g.dataSync();
      expect(d.every(Number.isFinite)).toBe(true);
      expect(d.some((v) => v !== 0)).toBe(true);
    }
  });
});

describe('robust-max likelihood', () => {
  it('Gauss–Hermite integrates polynomials exactly', () => {
    const { x, w } = gaussHermite(20);
    let s0 = 0; let s2 = 0; let s4 = 0;
    for (let i = 0; i < 20; i++) { s0 += w[i]; s2 += w[i] * x[i] ** 2; s4 += w[i] * x[i] ** 4; }
    expect(s0).toBeCloseTo(Math.sqrt(Math.PI), 10);
    expect(s2).toBeCloseTo(Math.sqrt(Math.PI) / 2, 10);
    expect(s4).toBeCloseTo(3 * Math.sqrt(Math.PI) / 4, 10);
  });

  it('E[log p] at zero variance is log(1 − β) for the argmax label and log(β/(C−1)) otherwise', () => {
    const mean = tf.tensor2d([[0.1, 2, -1, 0.5], [3, 0, 0, 0]]);
    const variance = tf.zeros([2, 4]) as tf.Tensor2D;
    const beta = 0.01;
    const hit = robustMaxExpectedLogLik(mean, variance, tf.tensor2d([[0, 1, 0, 0], [1, 0, 0, 0]]), beta).dataSync();
    expect(hit[0]).toBeCloseTo(Math.log(1 - beta), 6);
    expect(hit[1]).toBeCloseTo(Math.log(1 - beta), 6);
    const miss = robustMaxExpectedLogLik(mean, variance, tf.tensor2d([[1, 0, 0, 0], [0, 0, 1, 0]]), beta).dataSync();
    expect(miss[0]).toBeCloseTo(Math.log(beta / 3), 5);
  });

  it('argmax probabilities: two classes match Φ(Δμ/√(σ₁²+σ₂²)); equal Gaussians give 1/C; rows sum to 1', () => {
    const p = argmaxProbabilities(tf.tensor2d([[1, 0]]), tf.tensor2d([[0.5, 1.5]])).dataSync();
    // P(f1 > f2) = Φ(1 / √2) = 0.76025
    expect(p[0]).toBeCloseTo(0.760250, 4);
    expect(p[0] + p[1]).toBeCloseTo(1, 5);
    const q = argmaxProbabilities(tf.zeros([1, 5]) as tf.Tensor2D, tf.ones([1, 5]) as tf.Tensor2D).dataSync();
    for (const v of q) expect(v).toBeCloseTo(0.2, 4);
    const probs = robustMaxPredictive(tf.tensor2d([[4, 0, 0]]), tf.tensor2d([[1e-8, 1e-8, 1e-8]]), 0.02).dataSync();
    expect(probs[0]).toBeCloseTo(0.98, 5);
    expect(probs[1]).toBeCloseTo(0.01, 5);
  });
});

// Small float64 helpers for the references.
function invert(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) piv = r;
    [m[c], m[piv]] = [m[piv], m[c]];
    const d = m[c][c];
    for (let k = 0; k < 2 * n; k++) m[c][k] /= d;
    for (let r = 0; r < n; r++) if (r !== c) {
      const f = m[r][c];
      for (let k = 0; k < 2 * n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((r) => r.slice(n));
}
function choleskyTensor(k: tf.Tensor2D): tf.Tensor2D {
  const a = k.arraySync();
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let d = a[j][j];
    for (let q = 0; q < j; q++) d -= l[j][q] ** 2;
    l[j][j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i][j];
      for (let q = 0; q < j; q++) s -= l[i][q] * l[j][q];
      l[i][j] = s / l[j][j];
    }
  }
  return tf.tensor2d(l);
}
function solveLower(l: number[][], b: number[]): number[] {
  const x = [...b];
  for (let i = 0; i < b.length; i++) {
    for (let k = 0; k < i; k++) x[i] -= l[i][k] * x[k];
    x[i] /= l[i][i];
  }
  return x;
}

describe('label-only quadrature', () => {
  it('agrees with the all-classes quadrature', async () => {
    const { labelArgmaxProbability } = await import('../../../src/core/gp/likelihood');
    const mean = tf.tensor2d(randn(3 * 4, 21), [3, 4]);
    const variance = tf.abs(tf.tensor2d(randn(3 * 4, 22), [3, 4])) as tf.Tensor2D;
    const y = tf.oneHot(tf.tensor1d([2, 0, 3], 'int32'), 4) as tf.Tensor2D;
    const all = tf.sum(tf.mul(argmaxProbabilities(mean, variance), y), 1).dataSync();
    const one = labelArgmaxProbability(mean, variance, y).dataSync();
    for (let i = 0; i < 3; i++) expect(one[i]).toBeCloseTo(all[i], 6);
  });
});
