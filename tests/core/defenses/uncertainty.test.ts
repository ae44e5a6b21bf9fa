import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import {
  gpUncertainty, isUncertain, predictiveEntropy, softmaxEntropy, softmaxUncertainty,
} from '../../../src/core/defenses/uncertainty';
import type { Uncertain } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** −Σ p log p in plain JS. */
function entropyOf(p: readonly number[]): number {
  return -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);
}

/** A stand-in Uncertain with fixed predictive outputs (checks the bookkeeping, not the GP). */
function fixedUncertain(probs: number[][], variance: number[][]): Uncertain {
  const clf = tinyClassifier();
  return {
    ...clf,
    id: 'fixed',
    predictive: (x) => {
      const n = x.shape[0];
      return { probs: tf.tensor2d(probs.slice(0, n)), variance: tf.tensor2d(variance.slice(0, n)) };
    },
  };
}

describe('predictiveEntropy', () => {
  it('matches −Σ p log p: 0 for one-hot, log C for uniform, and a mixed row', () => {
    const rows = [[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.7, 0.2, 0.1, 0]];
    const p = tf.tensor2d(rows);
    const h = predictiveEntropy(p);
    const got = Array.from(h.dataSync());
    tf.dispose([p, h]);
    expect(got[0]).toBeCloseTo(0, 6);
    expect(got[1]).toBeCloseTo(Math.log(4), 6);
    expect(got[2]).toBeCloseTo(entropyOf(rows[2]), 6);
  });

  it('softmaxEntropy of a classifier equals the entropy of its softmax', () => {
    const clf = tinyClassifier(2);
    const x = randomImages(4, 5);
    const base = tf.memory().numTensors;
    const h = softmaxEntropy(clf, x);
    const probs = tf.tidy(() => tf.softmax(clf.logits(x)).arraySync() as number[][]);
    const got = Array.from(h.dataSync());
    h.dispose();
    expect(tf.memory().numTensors).toBe(base);
    probs.forEach((row, i) => expect(got[i]).toBeCloseTo(entropyOf(row), 5));
    x.dispose();
    clf.dispose();
  });
});

describe('gpUncertainty / softmaxUncertainty', () => {
  it('returns the predictive probabilities and variances, entropy and unsure = entropy > threshold', async () => {
    const probs = [[0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0]];
    const variance = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], Array(10).fill(2), Array(10).fill(0.5)];
    const model = fixedUncertain(probs, variance);
    expect(isUncertain(model)).toBe(true);
    const x = randomImages(3, 1);
    const base = tf.memory().numTensors;
    const threshold = (entropyOf(probs[0]) + entropyOf(probs[2])) / 2; // between the first and the third
    const r = await gpUncertainty(model, x, { score: 'entropy', threshold });
    expect(tf.memory().numTensors).toBe(base);
    expect(r).toMatchObject({ n: 3, classes: 10 });
    expect(Array.from(r.variance)).toEqual(variance.flat().map((v) => Math.fround(v)));
    expect(Array.from(r.probs)).toEqual(probs.flat().map((v) => Math.fround(v)));
    expect(Array.from(r.labels)).toEqual([0, 0, 2]);
    probs.forEach((row, i) => expect(r.entropy[i]).toBeCloseTo(entropyOf(row), 5));
    expect(r.unsure).toEqual([false, true, true]);
    const none = await gpUncertainty(model, x);
    expect(none.unsure).toEqual([false, false, false]);
    expect(tf.memory().numTensors).toBe(base);
    x.dispose();
    model.dispose();
  });

  it('softmaxUncertainty has no variance and the same entropy as softmaxEntropy', async () => {
    const clf = tinyClassifier(3);
    expect(isUncertain(clf)).toBe(false);
    const x = randomImages(5, 2);
    const base = tf.memory().numTensors;
    const r = await softmaxUncertainty(clf, x, { score: 'entropy', threshold: 0 });
    expect(tf.memory().numTensors).toBe(base);
    expect(r.variance).toHaveLength(0);
    const h = softmaxEntropy(clf, x);
    Array.from(h.dataSync()).forEach((v, i) => expect(r.entropy[i]).toBeCloseTo(v, 6));
    expect(r.unsure).toEqual(Array.from(r.entropy, (v) => v > 0));
    tf.dispose([h, x]);
    clf.dispose();
  });

  it('rejects a bad calibration and a wrong batch shape with BAD_INPUT', async () => {
    const model = fixedUncertain([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]], [Array(10).fill(1)]);
    const x = randomImages(1, 1);
    const wrong = tf.zeros([1, 20, 20, 1]) as tf.Tensor4D;
    await expect(gpUncertainty(model, x, { score: 'entropy', threshold: Number.NaN })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(gpUncertainty(model, x, { score: 'variance' as 'entropy', threshold: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(gpUncertainty(model, wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(softmaxUncertainty(model, wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    tf.dispose([x, wrong]);
    model.dispose();
  });
});

describe('shipped mnist-gpdnn on real MNIST test digits', () => {
  it('has lower entropy on digits than on uniform noise; probabilities sum to 1, variances positive', async () => {
    const gp = await loadShippedClassifier('mnist-gpdnn');
    if (!isUncertain(gp)) throw new Error('mnist-gpdnn must be an Uncertain');
    const test = loadMnist('test');
    const n = 40;
    const x = tf.tensor4d(test.images.subarray(0, n * 784), [n, 28, 28, 1]);
    const noise = randomImages(n, 9);
    const base = tf.memory().numTensors;
    const digits = await gpUncertainty(gp, x);
    const noisy = await gpUncertainty(gp, noise);
    expect(tf.memory().numTensors).toBe(base);
    for (let i = 0; i < n; i++) {
      const row = Array.from(digits.probs.subarray(i * 10, i * 10 + 10));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    expect(Math.min(...digits.variance)).toBeGreaterThan(0);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(noisy.entropy)).toBeGreaterThan(mean(digits.entropy));
    // (Var[f] is not compared: on uniform noise the shipped GPDNN's latent variance is lower than on digits.)
    let right = 0;
    for (let i = 0; i < n; i++) if (digits.labels[i] === test.labels[i]) right++;
    expect(right / n).toBeGreaterThan(0.9);
    tf.dispose([x, noise]);
    gp.dispose();
  });
});
