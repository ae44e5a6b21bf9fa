import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropyGradient } from '../../../src/core/attacks/gradients';
import { correctRuns, logitSweep, stripIndices, sweepEpsilons } from '../../../src/core/lab/sweep';
import { transferAll, transferRow } from '../../../src/core/lab/transfer';
import type { Classifier } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

let model: Classifier;
let other: Classifier;
let x: Float32Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = tinyClassifier(3);
  other = tinyClassifier(4);
  const t = randomImages(1, 5);
  x = (await t.data()) as Float32Array;
  t.dispose();
});

describe('sweep helpers', () => {
  it('ε values are symmetric, evenly spaced, and the middle one is exactly 0', () => {
    const e = sweepEpsilons(0.3, 7);
    expect(e).toHaveLength(7);
    expect(e[3]).toBe(0);
    e.forEach((v, i) => expect(v).toBeCloseTo(-e[6 - i], 12));
    for (let i = 1; i < 7; i++) expect(e[i] - e[i - 1]).toBeCloseTo(0.1, 12);
    expect(() => sweepEpsilons(0.3, 8)).toThrow();
  });

  it('strip indices are spread over the sweep with both ends and no duplicates', () => {
    expect(stripIndices(41, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(stripIndices(3, 7)).toEqual([0, 1, 2]);
    expect(stripIndices(41, 1)).toEqual([20]);
    expect(stripIndices(41, 0)).toEqual([]);
  });

  it('correct runs are the maximal index ranges where the prediction is the label', () => {
    expect(correctRuns([1, 4, 4, 2, 4], 4)).toEqual([[1, 2], [4, 4]]);
    expect(correctRuns([4, 4, 4], 4)).toEqual([[0, 2]]);
    expect(correctRuns([1, 2], 4)).toEqual([]);
  });
});

describe('logitSweep', () => {
  it('matches logits of x + ε·sign(∇ₓJ) computed separately, at every point, and leaks nothing', async () => {
    const probs = model.logits(tf.tensor4d(x, [1, 28, 28, 1]));
    const label = (await tf.argMax(probs, 1).data())[0];
    probs.dispose();
    const before = tf.memory().numTensors;
    const s = await logitSweep(model, x, label, { maxEps: 0.4, points: 9, strip: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.eps).toEqual(sweepEpsilons(0.4, 9));
    const expected = tf.tidy(() => {
      const xt = tf.tensor4d(x, [1, 28, 28, 1]);
      const dir = tf.sign(crossEntropyGradient(model, xt, tf.tensor1d([label], 'int32')));
      return tf.concat(s.eps.map((e) => model.logits(tf.add(xt, tf.mul(e, dir)) as tf.Tensor4D)));
    });
    const want = await expected.array();
    expected.dispose();
    s.logits.forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo(want[i][c], 4)));
    expect(s.predicted[4]).toBe(label);
    s.predicted.forEach((p, i) => expect(p).toBe(want[i].indexOf(Math.max(...want[i]))));
    expect(s.stripIndex).toEqual([0, 4, 8]);
    // The strip's middle image is the clean input (ε = 0).
    s.strip[1].forEach((v, i) => expect(v).toBeCloseTo(x[i], 6));
    // Positive ε raises the loss of the label: its logit margin shrinks (the loss is locally linear along the sign direction).
    const margin = (row: number[]) => row[label] - Math.max(...row.filter((_, c) => c !== label));
    expect(margin(s.logits[8])).toBeLessThan(margin(s.logits[4]));
  });

  it('bad options and inputs are BAD_INPUT', async () => {
    await expect(logitSweep(model, x, 0, { maxEps: 0, points: 9, strip: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(logitSweep(model, x, 0, { maxEps: 0.1, points: 10, strip: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(logitSweep(model, x, 0, { maxEps: 0.1, points: 9, strip: 99 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(logitSweep(model, x.subarray(0, 10), 0, { maxEps: 0.1, points: 9, strip: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(logitSweep(model, x, 10, { maxEps: 0.1, points: 9, strip: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('transfer', () => {
  it('a model is fooled when its adversarial prediction differs from its clean one; progress and cancel between models', async () => {
    const adv = x.map((v, i) => (i % 2 === 0 ? 1 - v : v));
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    const rows = await transferAll(['a', 'b'], async (id) => (id === 'a' ? model : other), x, adv, { onProgress: (_d, _t, id) => seen.push(id) });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual(['a', 'b']);
    expect(rows.map((r) => r.modelId)).toEqual(['a', 'b']);
    for (const [r, m] of [[rows[0], model], [rows[1], other]] as const) {
      const p = tf.tidy(() => tf.softmax(m.logits(tf.tensor4d(adv, [1, 28, 28, 1]))));
      const pa = Array.from(await p.data());
      p.dispose();
      expect(r.advLabel).toBe(pa.indexOf(Math.max(...pa)));
      expect(r.advConfidence).toBeCloseTo(Math.max(...pa), 5);
      expect(r.fooled).toBe(r.advLabel !== r.cleanLabel);
    }
    const same = await transferRow(model, x, x);
    expect(same.fooled).toBe(false);
    const ctl = new AbortController();
    ctl.abort();
    await expect(transferAll(['a'], async () => model, x, adv, { signal: ctl.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(transferRow(model, x, adv.subarray(1))).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
