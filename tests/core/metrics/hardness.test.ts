import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { jsma } from '../../../src/core/attacks/jsma';
import { ProbeError } from '../../../src/core/errors';
import { hardness, hardnessMatrix, HARDNESS_UPSILONS, jsmaSweep, pairBudget, predictFlat } from '../../../src/core/metrics/hardness';
import { changedFraction, type PapernotRun } from '../../../src/core/metrics/reproduce-papernot';
import type { Classifier } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

/**
 * Two classes on N = 40 binary features ([5, 8, 1]): Z_0 = m − Σx, Z_1 = Σx, so Z_1 − Z_0 = 2Σx − m.
 * Every feature is equally salient towards class 1 (α = 2 > 0, β = −2 < 0 per pair), and each JSMA
 * iteration (θ = +1) turns two more features on, raising Z_1 − Z_0 by 4: an image with k features on
 * reaches class 1 after the smallest j with 2(k + 2j) − m > 0 pixel pairs.
 */
function countingModel(m: number): Classifier {
  const N = 40;
  const w = new Float32Array(2 * N);
  for (let i = 0; i < N; i++) {
    w[2 * i] = -1;
    w[2 * i + 1] = 1;
  }
  const W = tf.tensor2d(w, [N, 2]);
  const b = tf.tensor1d([m, 0]);
  return {
    id: 'counting', inputShape: [5, 8, 1], inputRange: { min: 0, max: 1 }, classNames: ['0', '1'],
    logits: (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], N]), W), b) as tf.Tensor2D,
    dispose: () => tf.dispose([W, b]),
  };
}

/** Binary images with the first k_i features on. */
function onImages(ks: readonly number[]): tf.Tensor4D {
  const x = new Float32Array(ks.length * 40);
  ks.forEach((k, i) => x.fill(1, i * 40, i * 40 + k));
  return tf.tensor4d(x, [ks.length, 5, 8, 1]);
}

describe('hardness (trapezoid rule over (τ, ε))', () => {
  it('sums (τ_{k+1} − τ_k)(ε_{k+1} + ε_k)/2, leaving out undefined points', () => {
    expect(hardness([{ successRate: 0.2, distortion: 0.01 }, { successRate: 0.6, distortion: 0.03 }, { successRate: 1, distortion: 0.05 }])).toBeCloseTo(0.4 * 0.02 + 0.4 * 0.04, 12);
    // τ = 0: no successful sample, ε undefined: the curve starts at the next point.
    expect(hardness([{ successRate: 0, distortion: Number.NaN }, { successRate: 0.5, distortion: 0.02 }, { successRate: 0.75, distortion: 0.04 }])).toBeCloseTo(0.25 * 0.03, 12);
    expect(hardness([{ successRate: 0.5, distortion: 0.02 }])).toBe(0);
    expect(hardness([{ successRate: Number.NaN, distortion: Number.NaN }])).toBeNaN();
    expect(hardness([])).toBeNaN();
  });

  it('the default grid: the paper\'s budgets of 2 … 100 pixels of 784, then Υ = 14.5%', () => {
    expect(HARDNESS_UPSILONS.map((u) => pairBudget(u, 784))).toEqual([1, 5, 10, 20, 30, 40, 50, 56]);
    expect(pairBudget(0.145, 784)).toBe(Math.floor((784 * 0.145) / 2));
  });

  it('hardnessMatrix: per-pair τ_k and ε_k from the runs at each Υ_k, H per pair, NaN without runs', () => {
    const run = (source: number, target: number, success: boolean, distortion: number): PapernotRun => ({ index: 0, source, target, success, distortion });
    const stages = [
      [run(0, 1, false, 0.1), run(0, 1, true, 0.05), run(1, 0, false, 0.1)],
      [run(0, 1, true, 0.15), run(0, 1, true, 0.05), run(1, 0, true, 0.2)],
    ];
    const m = hardnessMatrix(stages, 3);
    expect(m.successRate[0][0][1]).toBe(0.5);
    expect(m.successRate[1][0][1]).toBe(1);
    expect(m.distortion[0][0][1]).toBeCloseTo(0.05, 12);
    expect(m.distortion[1][0][1]).toBeCloseTo(0.1, 12);
    expect(m.hardness[0][1]).toBeCloseTo(0.5 * (0.05 + 0.1) / 2, 12);
    // 1 → 0: no success at Υ_1, one point left: 0.
    expect(m.hardness[1][0]).toBe(0);
    expect(m.hardness[0][0]).toBeNaN();
    expect(m.hardness[2][1]).toBeNaN();
    const all = hardnessMatrix(stages, 3, 'all');
    expect(all.distortion[0][0][1]).toBeCloseTo(0.075, 12);
    expect(all.hardness[1][0]).toBeCloseTo(1 * (0.1 + 0.2) / 2, 12);
  });
});

describe('jsmaSweep: JSMA at every Υ of a grid in one pass', () => {
  it('on a linear model, success and distortion at each Υ are the counts worked out by hand, and so is H', async () => {
    const model = countingModel(30.5);
    const ks = [0, 2, 4, 6, 8, 10];
    // Pairs needed: j > (30.5 − 2k)/4 → 8, 7, 6, 5, 4, 3.
    const need = ks.map((k) => Math.floor((30.5 - 2 * k) / 4) + 1);
    expect(need).toEqual([8, 7, 6, 5, 4, 3]);
    const x = onImages(ks);
    const t = tf.tensor1d(ks.map(() => 1), 'int32');
    const before = tf.memory().numTensors;
    const budgets = [2, 4, 6, 8];
    const r = await jsmaSweep(model, x, t, { upsilons: budgets.map((b) => (2 * b) / 40) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.budgets).toEqual(budgets);
    budgets.forEach((b, k) => {
      expect(Array.from(r.success[k]), `Υ_${k}`).toEqual(need.map((j) => (j <= b ? 1 : 0)));
      // Successful runs change 2j features, failed ones the whole budget.
      expect(Array.from(r.distortion[k]), `Υ_${k}`).toEqual(need.map((j) => (2 * Math.min(j, b)) / 40));
    });
    const stages = budgets.map((_, k) => ks.map((_, i): PapernotRun => ({ index: i, source: 0, target: 1, success: r.success[k][i] === 1, distortion: r.distortion[k][i] })));
    const H = hardnessMatrix(stages, 2);
    // (τ, ε) = (0, —), (2/6, 0.175), (4/6, 0.225), (1, 0.275).
    expect(H.successRate.map((s) => s[0][1])).toEqual([0, 2 / 6, 4 / 6, 1]);
    expect(H.distortion[1][0][1]).toBeCloseTo(0.175, 12);
    expect(H.distortion[3][0][1]).toBeCloseTo(0.275, 12);
    expect(H.hardness[0][1]).toBeCloseTo((1 / 3) * (0.175 + 0.225) / 2 + (1 / 3) * (0.225 + 0.275) / 2, 12);
    const Hall = hardnessMatrix(stages, 2, 'all');
    const eAll = [0.1, (4 * 0.2 + 0.2 + 0.15) / 6, (2 * 0.3 + (12 + 10 + 8 + 6) / 40) / 6, 0.275];
    eAll.forEach((e, k) => expect(Hall.distortion[k][0][1]).toBeCloseTo(e, 12));
    expect(Hall.hardness[0][1]).toBeCloseTo((1 / 3) * ((eAll[0] + eAll[1]) / 2 + (eAll[1] + eAll[2]) / 2 + (eAll[2] + eAll[3]) / 2), 12);
    // The adversarial samples at the largest Υ: class 1 for every image.
    expect(Array.from(await predictFlat(model, r.adv, ks.length))).toEqual(ks.map(() => 1));
    tf.dispose([x, t]);
    model.dispose();
  });

  it('each stage equals a direct JSMA run at its Υ (conv net, both saliency maps)', async () => {
    const model = tinyClassifier(4);
    const x = randomImages(3, 11);
    const t = tf.tensor1d([2, 5, 9], 'int32');
    const xv = (await x.data()) as Float32Array;
    // Budgets ⌊784·Υ/2⌋ = 2, 6, 15 pairs (Υ away from 2k/784, where a plain floor of the float product may round down).
    const upsilons = [0.006, 0.016, 0.04];
    for (const saliency of ['logits', 'probabilities'] as const) {
      const before = tf.memory().numTensors;
      const r = await jsmaSweep(model, x, t, { upsilons, saliency });
      expect(tf.memory().numTensors).toBe(before);
      for (let k = 0; k < upsilons.length; k++) {
        const direct = await jsma(model, x, { targets: t, maxDistortion: upsilons[k], saliency });
        const dv = (await direct.data()) as Float32Array;
        const pred = await predictFlat(model, dv, 3);
        direct.dispose();
        expect(Array.from(r.distortion[k]), `${saliency} Υ_${k}`).toEqual(changedFraction(xv, dv, 784));
        expect(Array.from(r.success[k]), `${saliency} Υ_${k}`).toEqual([0, 1, 2].map((i) => (pred[i] === [2, 5, 9][i] ? 1 : 0)));
        if (k === upsilons.length - 1) expect(Array.from(r.adv)).toEqual(Array.from(dv));
      }
      // Success only grows with Υ; so does the distortion of every run.
      for (let k = 1; k < upsilons.length; k++) {
        for (let i = 0; i < 3; i++) {
          expect(r.success[k][i]).toBeGreaterThanOrEqual(r.success[k - 1][i]);
          expect(r.distortion[k][i]).toBeGreaterThanOrEqual(r.distortion[k - 1][i]);
        }
      }
    }
    tf.dispose([x, t]);
    model.dispose();
  });

  it('refuses a grid that does not grow, Υ outside (0, 1] and mismatched targets with BAD_INPUT', async () => {
    const model = countingModel(30.5);
    const x = onImages([0]);
    const t = tf.tensor1d([1], 'int32');
    const code = async (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (e: unknown) => (e instanceof ProbeError ? e.code : 'other'));
    expect(await code(jsmaSweep(model, x, t, { upsilons: [0.1, 0.1] }))).toBe('BAD_INPUT');
    expect(await code(jsmaSweep(model, x, t, { upsilons: [0.01] }))).toBe('BAD_INPUT');
    expect(await code(jsmaSweep(model, x, t, { upsilons: [0.5, 1.5] }))).toBe('BAD_INPUT');
    expect(await code(jsmaSweep(model, x, t, { upsilons: [] }))).toBe('BAD_INPUT');
    const t2 = tf.tensor1d([1, 1], 'int32');
    expect(await code(jsmaSweep(model, x, t2, { upsilons: [0.1] }))).toBe('BAD_INPUT');
    tf.dispose([x, t, t2]);
    model.dispose();
  });
});
