import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { getAttack, resolveParams, type ClassifierAttackSpec } from '../../../src/core/attacks';
import { ProbeError } from '../../../src/core/errors';
import {
  attackOutcomes, extraPerturbation, fgsmErrorAndLl, meanPredictiveVariance, FONT_DIGITS_BIN, FONT_DIGITS_DIR, FONT_DIGITS_JSON, isUncertain, l2PerImage, logProbabilities,
  parseFontDigits, pickImages, rotateImages, scoreLogProbs, scoreSet, summariseOutcomes,
} from '../../../src/core/metrics/reproduce-bradshaw';
import type { Classifier, Uncertain } from '../../../src/core/models/types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A linear 2×2-pixel, 3-class softmax model: logits = x·W. */
function linearModel(): Classifier {
  const w = tf.keep(tf.tensor2d([[2, 0, -1], [0, 1, 0], [-1, 0, 2], [0, -1, 1]]));
  return {
    id: 'lin', inputShape: [2, 2, 1], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b', 'c'],
    logits: (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [-1, 4]), w)),
    dispose: () => w.dispose(),
  };
}

/** The same model made Uncertain with fixed predictive probabilities (to check that they, not the softmax, are used). */
function uncertainModel(): Uncertain {
  const base = linearModel();
  return {
    ...base,
    predictive: (x) => tf.tidy(() => {
      const n = x.shape[0];
      return { probs: tf.tile(tf.tensor2d([[0.5, 0.3, 0.2]]), [n, 1]) as tf.Tensor2D, variance: tf.ones([n, 3]) as tf.Tensor2D };
    }),
  };
}

describe('log-likelihood and scores', () => {
  it('scoreLogProbs: accuracy, mean log p(label), confidence and entropy, by hand', () => {
    const p = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]];
    const lp = p.flat().map(Math.log);
    const s = scoreLogProbs(lp, 3, [0, 2]);
    expect(s.n).toBe(2);
    expect(s.accuracy).toBe(0.5);
    expect(s.logLikelihood).toBeCloseTo((Math.log(0.7) + Math.log(0.3)) / 2, 12);
    expect(s.logLikelihoodSd).toBeCloseTo(Math.abs(Math.log(0.7) - Math.log(0.3)) / Math.SQRT2, 12);
    expect(s.meanConfidence).toBeCloseTo(0.65, 12);
    const h = (q: number[]) => -q.reduce((a, v) => a + v * Math.log(v), 0);
    expect(s.meanEntropy).toBeCloseTo((h(p[0]) + h(p[1])) / 2, 12);
    // Without labels: no accuracy, no LL, but confidence and entropy.
    const u = scoreLogProbs(lp, 3);
    expect(u.accuracy).toBeNaN();
    expect(u.logLikelihood).toBeNaN();
    expect(u.meanConfidence).toBeCloseTo(0.65, 12);
  });

  it('scoreLogProbs: bad input is a BAD_INPUT error', () => {
    expect(() => scoreLogProbs([0, 0, 0, 0], 3)).toThrow(ProbeError);
    expect(() => scoreLogProbs([0, 0, 0], 3, [0, 1])).toThrow(/labels/);
    try {
      scoreLogProbs([0, 0, 0], 3, [5]);
      expect.unreachable();
    } catch (e) {
      expect((e as ProbeError).code).toBe('BAD_INPUT');
    }
  });

  it('logProbabilities: log-softmax for a classifier, the log of the predictive probabilities for an Uncertain one; no leaks', async () => {
    const nn = linearModel();
    const gp = uncertainModel();
    expect(isUncertain(nn)).toBe(false);
    expect(isUncertain(gp)).toBe(true);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d([1, 0, 0, 0, 0, 0, 1, 0], [2, 2, 2, 1]);
    const a = logProbabilities(nn, x);
    const b = logProbabilities(gp, x);
    const av = await a.array();
    const bv = await b.array();
    tf.dispose([x, a, b]);
    expect(tf.memory().numTensors).toBe(before);
    const z = [2, 0, -1];
    const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
    expect(av[0][0]).toBeCloseTo(2 - lse, 5);
    expect(bv[1]).toEqual([Math.log(0.5), Math.log(0.3), Math.log(0.2)].map((v) => expect.closeTo(v, 5)));
    nn.dispose();
    gp.dispose();
  });

  it('scoreSet: the Uncertain model is scored on its predictive probabilities, batched; no leaks', async () => {
    const gp = uncertainModel();
    const images = new Float32Array(5 * 4).map((_, i) => (i % 3) / 2);
    const labels = [0, 1, 0, 2, 0];
    const before = tf.memory().numTensors;
    const s = await scoreSet(gp, { images, labels, n: 5 }, { batch: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.accuracy).toBeCloseTo(3 / 5, 12);
    expect(s.logLikelihood).toBeCloseTo((3 * Math.log(0.5) + Math.log(0.3) + Math.log(0.2)) / 5, 5);
    expect((await scoreSet(gp, { images, labels, n: 5 }, { n: 2 })).n).toBe(2);
    await expect(scoreSet(gp, { images, n: 0 })).rejects.toThrow(ProbeError);
    gp.dispose();
  });

  it('meanPredictiveVariance: the mean of Var[f] over images and classes, batched; no leaks; too many images is BAD_INPUT', async () => {
    const base = uncertainModel();
    const gp: Uncertain = {
      ...base,
      predictive: (x) => tf.tidy(() => {
        const s = tf.sum(tf.reshape(x, [-1, 4]), 1, true);
        return { probs: tf.softmax(tf.tile(s, [1, 3])) as tf.Tensor2D, variance: tf.tile(s, [1, 3]) as tf.Tensor2D };
      }),
    };
    const images = Float32Array.from([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1]);
    const before = tf.memory().numTensors;
    expect(await meanPredictiveVariance(gp, images, 3, 2)).toBeCloseTo((1 + 2 + 4) / 3, 6);
    expect(await meanPredictiveVariance(gp, images, 1)).toBeCloseTo(1, 6);
    expect(tf.memory().numTensors).toBe(before);
    await expect(meanPredictiveVariance(gp, images, 4)).rejects.toThrow(ProbeError);
    base.dispose();
  });

  it('fgsmErrorAndLl: ε = 0 gives the clean scores; a large ε raises the error and lowers the LL; no leaks', async () => {
    const nn = linearModel();
    const fgsm = getAttack('fgsm') as ClassifierAttackSpec;
    const images = Float32Array.from([0.9, 0.1, 0.1, 0.1, 0.1, 0.8, 0.2, 0.1, 0.2, 0.1, 0.9, 0.6]);
    const labels = [0, 1, 2];
    const before = tf.memory().numTensors;
    const curve = await fgsmErrorAndLl(nn, fgsm, resolveParams(fgsm, {}), { images, labels, n: 3 }, [0, 0.5], { batch: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const clean = await scoreSet(nn, { images, labels, n: 3 });
    expect(curve.map((p) => p.eps)).toEqual([0, 0.5]);
    expect(curve[0].error).toBeCloseTo(1 - clean.accuracy, 12);
    expect(curve[0].logLikelihood).toBeCloseTo(clean.logLikelihood, 5);
    expect(curve[1].logLikelihood).toBeLessThan(curve[0].logLikelihood);
    expect(curve[1].error).toBeGreaterThan(curve[0].error);
    nn.dispose();
  });
});

describe('attack outcomes', () => {
  it('l2PerImage, attackOutcomes and summariseOutcomes: only correctly classified images are attacked', () => {
    const x = [0, 0, 0, 0, 1, 1];
    const adv = [3, 4, 0, 0, 1, 1];
    expect(l2PerImage(x, adv, 2)).toEqual([5, 0, 0]);
    expect(() => l2PerImage(x, adv.slice(1), 2)).toThrow(ProbeError);
    // Image 0: attacked, fooled. Image 1: attacked, not fooled. Image 2: misclassified already (not attacked).
    const o = attackOutcomes([1, 2, 3], [1, 2, 4], [7, 2, 4], [5, 0, 0]);
    expect(o.attacked).toEqual([true, true, false]);
    expect(o.success).toEqual([true, false, false]);
    expect(summariseOutcomes(o)).toEqual({ images: 3, attacked: 2, failed: 1, succeeded: 1, meanL2: 5 });
    expect(() => attackOutcomes([1], [1, 2], [1], [0])).toThrow(/lengths/);
  });

  it('extraPerturbation: over the images both attacks fooled, B minus A', () => {
    const a = attackOutcomes([0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 1], [1, 2, 0, 1.5]);
    const b = attackOutcomes([0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [2, 4, 9, 0]);
    const e = extraPerturbation(a, b);
    expect(e.count).toBe(2);
    expect(e.meanA).toBeCloseTo(1.5, 12);
    expect(e.meanB).toBeCloseTo(3, 12);
    expect(e.meanExtra).toBeCloseTo(1.5, 12);
    expect(e.sdExtra).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('pickImages copies the chosen images and labels, and refuses an index out of range', () => {
    const imgs = Float32Array.from([1, 1, 2, 2, 3, 3]);
    const p = pickImages(imgs, [7, 8, 9], [2, 0], 2);
    expect(Array.from(p.images)).toEqual([3, 3, 1, 1]);
    expect(Array.from(p.labels)).toEqual([9, 7]);
    expect(() => pickImages(imgs, [7, 8, 9], [3], 2)).toThrow(ProbeError);
  });
});

describe('shifted data', () => {
  it('rotateImages: 0° is the identity, 90° turns rows into columns, 360° comes back; mass kept inside, values in [0, 1]', () => {
    const side = 5;
    const x = new Float32Array(2 * side * side);
    x[0 * side + 2] = 1; // top middle of image 0
    x[side * side + 2 * side + 3] = 0.5; // right of centre in image 1
    expect(Array.from(rotateImages(x, side, 0))).toEqual(Array.from(x));
    const r = rotateImages(x, side, 90);
    // Counter-clockwise: the top-middle pixel moves to the left-middle; right of centre moves above it.
    expect(r[2 * side + 0]).toBeCloseTo(1, 6);
    expect(r[0 * side + 2]).toBeCloseTo(0, 6);
    expect(r[side * side + 1 * side + 2]).toBeCloseTo(0.5, 6);
    const back = rotateImages(rotateImages(r, side, 180), side, 90);
    for (let i = 0; i < x.length; i++) expect(back[i]).toBeCloseTo(x[i], 5);
    const blob = new Float32Array(28 * 28).map((_, i) => (Math.abs((i % 28) - 13.5) < 6 && Math.abs(Math.floor(i / 28) - 13.5) < 3 ? 1 : 0));
    const rb = rotateImages(blob, 28, 45);
    const sum = (v: Float32Array) => v.reduce((a, b) => a + b, 0);
    expect(sum(rb) / sum(blob)).toBeGreaterThan(0.95);
    expect(sum(rb) / sum(blob)).toBeLessThan(1.05);
    expect(Math.min(...rb)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...rb)).toBeLessThanOrEqual(1);
    expect(() => rotateImages(new Float32Array(10), 5, 10)).toThrow(ProbeError);
    expect(() => rotateImages(x, side, Number.NaN)).toThrow(/angle/);
  });

  it('parseFontDigits validates the metadata and scales the pixels', () => {
    const meta = {
      about: 'x', file: 'f', n: 2, rows: 28, cols: 28, labels: [3, 9], variantOf: [0, 0],
      variants: [{ family: 'Sans', weight: 'bold', style: 'normal', sizePx: 48 }], chromium: '1',
    };
    const px = new Uint8Array(2 * 784);
    px[0] = 255;
    px[784] = 51;
    const f = parseFontDigits(meta, px);
    expect(f.n).toBe(2);
    expect(Array.from(f.labels)).toEqual([3, 9]);
    expect(f.images[0]).toBe(1);
    expect(f.images[784]).toBeCloseTo(0.2, 6);
    expect(f.families).toEqual(['Sans']);
    expect(() => parseFontDigits(meta, px.subarray(1))).toThrow(/pixel bytes/);
    expect(() => parseFontDigits({ ...meta, labels: [3, 10] }, px)).toThrow(/labels/);
    expect(() => parseFontDigits({ ...meta, variantOf: [0, 1] }, px)).toThrow(/variantOf/);
    expect(() => parseFontDigits({ ...meta, variants: [{ family: 'S', weight: 'heavy', style: 'normal', sizePx: 1 }] }, px)).toThrow(/variants\[0\]/);
    expect(() => parseFontDigits(null, px)).toThrow(ProbeError);
  });

  it('the committed font digits parse: every digit, several families, small files', () => {
    const meta = JSON.parse(readFileSync(join(FONT_DIGITS_DIR, FONT_DIGITS_JSON), 'utf8')) as unknown;
    const gz = readFileSync(join(FONT_DIGITS_DIR, FONT_DIGITS_BIN));
    expect(gz.length + readFileSync(join(FONT_DIGITS_DIR, FONT_DIGITS_JSON)).length).toBeLessThan(300 * 1024);
    const f = parseFontDigits(meta, new Uint8Array(gunzipSync(gz)));
    for (let d = 0; d < 10; d++) expect(Array.from(f.labels).filter((l) => l === d).length, `digit ${d}`).toBeGreaterThanOrEqual(10);
    expect(f.families.length).toBeGreaterThanOrEqual(3);
    // MNIST-style: ink in [0, 1], nothing in the outer 2-pixel frame of most images, mass near the centre.
    let centred = 0;
    for (let i = 0; i < f.n; i++) {
      const img = f.images.subarray(i * 784, (i + 1) * 784);
      let m = 0;
      let mx = 0;
      let my = 0;
      for (let p = 0; p < 784; p++) {
        m += img[p];
        mx += img[p] * (p % 28);
        my += img[p] * Math.floor(p / 28);
      }
      if (m > 0 && Math.abs(mx / m - 14) <= 1.5 && Math.abs(my / m - 14) <= 1.5) centred++;
    }
    expect(centred / f.n).toBeGreaterThan(0.95);
  });
});
