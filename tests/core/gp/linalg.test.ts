import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cholInverse, choleskyJs, choleskyWithJitterJs, invertLowerJs, solveLowerJs, solveUpperTransposedJs } from '../../../src/core/gp/linalg';
import { mulberry32 } from '../../../training/common';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A random SPD n×n matrix B Bᵀ + n·I (float64, row-major). */
function randomSpd(n: number, seed: number): Float64Array {
  const r = mulberry32(seed);
  const b = Float64Array.from({ length: n * n }, () => r() * 2 - 1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? n : 0;
    for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
    a[i * n + j] = s;
  }
  return a;
}

describe('Cholesky and triangular solves (plain JS, float64)', () => {
  it('factors a known 3x3 matrix exactly', () => {
    // Classic example: [[4,12,-16],[12,37,-43],[-16,-43,98]] = L Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]].
    const l = choleskyJs([4, 12, -16, 12, 37, -43, -16, -43, 98], 3);
    expect(Array.from(l)).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('reconstructs a random SPD 50x50 matrix and solves against it', () => {
    const n = 50;
    const a = randomSpd(n, 3);
    const l = choleskyJs(a, n);
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
      err = Math.max(err, Math.abs(s - a[i * n + j]));
    }
    expect(err).toBeLessThan(1e-10);
    const b = Float64Array.from({ length: n * 2 }, (_, i) => Math.sin(i));
    // A x = b  ⇔  L (Lᵀ x) = b
    const x = solveUpperTransposedJs(l, solveLowerJs(l, b, n, 2), n, 2);
    for (let i = 0; i < n; i++) for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * x[k * 2 + c];
      expect(s).toBeCloseTo(b[i * 2 + c], 9);
    }
    const inv = invertLowerJs(l, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += inv[i * n + k] * l[k * n + j];
      expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
    }
  });

  it('rejects a non-PD matrix and rescues a singular PSD one with jitter', () => {
    expect(() => choleskyJs([1, 2, 2, 1], 2)).toThrow(/positive definite/);
    const { l, extra } = choleskyWithJitterJs([1, 1, 1, 1], 2);
    expect(extra).toBeGreaterThan(0);
    expect(Number.isFinite(l[3])).toBe(true);
  });
});

describe('cholInverse (tfjs op with a hand-written gradient)', () => {
  it('returns L⁻¹ of a known matrix', () => {
    const linv = cholInverse(tf.tensor2d([4, 12, -16, 12, 37, -43, -16, -43, 98], [3, 3]));
    const expected = invertLowerJs([2, 0, 0, 6, 1, 0, -8, 5, 3], 3);
    const got = linv.dataSync();
    for (let i = 0; i < 9; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
  });

  it('has the gradient of a float64 finite-difference reference for a symmetric perturbation', () => {
    const n = 6;
    const a = randomSpd(n, 7);
    const r = mulberry32(11);
    const g = Float64Array.from({ length: n * n }, () => r() * 2 - 1); // upstream weights
    const f64 = (m: Float64Array): number => {
      const inv = invertLowerJs(choleskyJs(m, n), n);
      let s = 0;
      for (let i = 0; i < n * n; i++) s += g[i] * inv[i];
      return s;
    };
    const grad = tf.grad((k: tf.Tensor) => tf.sum(tf.mul(cholInverse(k as tf.Tensor2D), tf.tensor2d(Float32Array.from(g), [n, n]))));
    const analytic = grad(tf.tensor2d(Float32Array.from(a), [n, n])).dataSync();
    // The op's gradient is symmetric; compare along symmetric directions E_ij + E_ji.
    const h = 1e-6;
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) {
      const p = Float64Array.from(a);
      const q = Float64Array.from(a);
      p[i * n + j] += h; q[i * n + j] -= h;
      if (i !== j) { p[j * n + i] += h; q[j * n + i] -= h; }
      const fd = (f64(p) - f64(q)) / (2 * h);
      const an = i === j ? analytic[i * n + i] : analytic[i * n + j] + analytic[j * n + i];
      expect(an).toBeCloseTo(fd, 4);
    }
    expect(analytic[1 * n + 0]).toBeCloseTo(analytic[0 * n + 1], 6);
  });
});
