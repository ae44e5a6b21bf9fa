import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../../src/core/errors';
import {
  adversarialDistanceFromJacobian, adversarialDistances, distanceMatrix, robustness, type DistanceRun,
} from '../../../src/core/metrics/adversarial-distance';
import type { Classifier } from '../../../src/core/models/types';
import { mulberry32 } from '../../../src/core/random';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

const C = 4;
const N = 12;

/** Z = W·x + b on [3, 4, 1] inputs, W [C][N] with entries in [−1, 1) (seeded). Its Jacobian is W at every X. */
function linear(seed: number): { model: Classifier; W: number[][]; b: number[] } {
  const next = mulberry32(seed);
  const W = Array.from({ length: C }, () => Array.from({ length: N }, () => 2 * next() - 1));
  const b = Array.from({ length: C }, () => next() - 0.5);
  const Wt = tf.tensor2d(Array.from({ length: N }, (_, i) => W.map((row) => row[i])), [N, C]);
  const bT = tf.tensor1d(b);
  const model: Classifier = {
    id: 'linear', inputShape: [3, 4, 1], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b', 'c', 'd'],
    logits: (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], N]), Wt), bT) as tf.Tensor2D,
    dispose: () => tf.dispose([Wt, bT]),
  };
  return { model, W, b };
}

function images(n: number, seed: number): { t: tf.Tensor4D; v: number[][] } {
  const next = mulberry32(seed);
  const v = Array.from({ length: n }, () => Array.from({ length: N }, () => next()));
  return { t: tf.tensor4d(v.flat(), [n, 3, 4, 1]), v };
}

describe('adversarial distance A(X, t) = 1 − (1/N)·Σ_i 1[S(X, t)[i] > 0]', () => {
  it('logits map of a linear model: the fraction of features without W_t,i > 0 and Σ_{c≠t} W_c,i < 0, whatever X', async () => {
    const { model, W } = linear(5);
    const { t: x } = images(5, 9);
    const expected = Array.from({ length: C }, (_, t) => {
      let positive = 0;
      for (let i = 0; i < N; i++) {
        const others = W.reduce((a, row, c) => (c === t ? a : a + row[i]), 0);
        if (W[t][i] > 0 && others < 0) positive++;
      }
      return 1 - positive / N;
    });
    // Not degenerate: some features count, and the targets differ.
    expect(Math.min(...expected)).toBeLessThan(1);
    expect(new Set(expected).size).toBeGreaterThan(1);
    const before = tf.memory().numTensors;
    const a = await adversarialDistances(model, x, 'logits', 2);
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toHaveLength(5 * C);
    for (let i = 0; i < 5; i++) for (let t = 0; t < C; t++) expect(a[i * C + t]).toBeCloseTo(expected[t], 12);
    tf.dispose(x);
    model.dispose();
  });

  it('probability map of a linear model: the fraction without ∂F_t/∂x_i > 0, i.e. W_t,i > Σ_c F_c W_c,i, per X', async () => {
    const { model, W, b } = linear(6);
    const { t: x, v } = images(3, 4);
    const a = await adversarialDistances(model, x, 'probabilities');
    v.forEach((xi, n) => {
      const z = W.map((row, c) => row.reduce((s, w, i) => s + w * xi[i], b[c]));
      const mx = Math.max(...z);
      const e = z.map((q) => Math.exp(q - mx));
      const F = e.map((q) => q / e.reduce((s, r) => s + r, 0));
      for (let t = 0; t < C; t++) {
        let positive = 0;
        for (let i = 0; i < N; i++) if (W[t][i] - W.reduce((s, row, c) => s + F[c] * row[i], 0) > 0) positive++;
        expect(a[n * C + t], `image ${n}, target ${t}`).toBeCloseTo(1 - positive / N, 12);
      }
    });
    tf.dispose(x);
    model.dispose();
  });

  it('from a given Jacobian: every feature counts; zero derivatives are not salient', () => {
    // 3 classes, 4 features. Target 0: feature 0 (∂Z_0 = 1 > 0, others −1 < 0) and feature 3 count.
    const jac = [
      1, 1, 0, 2,
      -1, 1, 0, -1,
      0, 0, 0, -2,
    ];
    const a = adversarialDistanceFromJacobian(jac, 3);
    expect(a[0]).toBeCloseTo(1 - 2 / 4, 12);
    // Target 1: feature 1 (1 > 0 but others 1 > 0: no), feature 0 (−1: no) → none.
    expect(a[1]).toBe(1);
    expect(() => adversarialDistanceFromJacobian([1, 2, 3], 2)).toThrow(ProbeError);
    expect(() => adversarialDistanceFromJacobian(jac, 3, 'probabilities')).toThrow(/logits/);
  });

  it('a conv net: in [0, 1], the same in any batch size, no tensors left', async () => {
    const model = tinyClassifier(2);
    const x = randomImages(5, 3);
    const before = tf.memory().numTensors;
    const a = await adversarialDistances(model, x, 'logits', 2);
    const b = await adversarialDistances(model, x, 'logits', 32);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const v of a) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // The map of a random conv net is sparse but not empty.
    expect(Math.min(...a)).toBeLessThan(1);
    const wrong = tf.zeros([1, 5, 5, 1]) as tf.Tensor4D;
    await expect(adversarialDistances(model, wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    tf.dispose([x, wrong]);
    model.dispose();
  });
});

describe('per-pair means and robustness R(F) = min over (X, t) of A(X, t)', () => {
  const runs: DistanceRun[] = [
    { index: 0, source: 0, target: 1, distance: 0.9 },
    { index: 1, source: 0, target: 1, distance: 0.7 },
    { index: 0, source: 0, target: 2, distance: 0.95 },
    { index: 2, source: 2, target: 0, distance: 0.6 },
  ];
  it('distanceMatrix: the mean per pair and its count; NaN without runs', () => {
    const m = distanceMatrix(runs, 3);
    expect(m.mean[0][1]).toBeCloseTo(0.8, 12);
    expect(m.mean[0][2]).toBeCloseTo(0.95, 12);
    expect(m.mean[2][0]).toBeCloseTo(0.6, 12);
    expect(m.mean[1][0]).toBeNaN();
    expect(m.count).toEqual([[0, 2, 1], [0, 0, 0], [1, 0, 0]]);
  });
  it('robustness: the smallest A and where it is', () => {
    expect(robustness(runs)).toEqual({ value: 0.6, at: runs[3] });
    expect(robustness([]).value).toBeNaN();
  });
});
