import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { attackEach, logisticWeights } from '../../../src/core/lab/adv-training';
import type { Classifier } from '../../../src/core/models/types';

/** Logistic-regression weights through the Classifier interface, and the side-by-side attack runner, on the shipped models. */
let lr: Classifier;
let softmax: Classifier;
const test = loadMnist('test');

beforeAll(async () => {
  await useNodeBackend('wasm');
  [lr, softmax] = await Promise.all([loadShippedClassifier('mnist-lr-3v7'), loadShippedClassifier('mnist-softmax')]);
}, 120_000);
afterAll(() => {
  lr?.dispose();
  softmax?.dispose();
});

const logitDiff = (m: Classifier, x: Float32Array): number =>
  tf.tidy(() => {
    const z = m.logits(tf.tensor4d(x, [1, 28, 28, 1])).dataSync();
    return z[1] - z[0];
  });

describe('logisticWeights', () => {
  it('is w of mnist-lr-3v7: z(x) − z(0) = w·x on real digits, and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const w = await logisticWeights(lr);
    expect(tf.memory().numTensors).toBe(before);
    expect(w).toHaveLength(784);
    const z0 = logitDiff(lr, new Float32Array(784));
    for (const i of [0, 1, 2]) {
      const x = Float32Array.from(test.images.subarray(i * 784, (i + 1) * 784));
      const dot = x.reduce((s, v, k) => s + v * w[k], 0);
      expect(logitDiff(lr, x) - z0).toBeCloseTo(dot, 3);
    }
    expect(w.some((v) => v > 0) && w.some((v) => v < 0)).toBe(true);
  });

  it('rejects a model with more than two classes', async () => {
    await expect(logisticWeights(softmax)).rejects.toThrow(/not a binary classifier/);
  });
});

describe('attackEach', () => {
  it('runs the attack white-box on each model, frees its tensors, and stops with CANCELLED on an aborted signal', async () => {
    const x = Float32Array.from(test.images.subarray(0, 784));
    const before = tf.memory().numTensors;
    const runs = await attackEach([softmax, lr], x, { attack: 'fgsm', params: { eps: 0.25, norm: 'inf' }, target: null });
    expect(tf.memory().numTensors).toBe(before);
    expect(runs.map((r) => r.modelId)).toEqual(['mnist-softmax', 'mnist-lr-3v7']);
    for (const r of runs) {
      expect(r.outcome.distances.linf).toBeLessThanOrEqual(0.25 + 1e-5);
      expect(r.outcome.success).toBe(r.outcome.prediction.label !== r.clean.label);
    }
    const ctl = new AbortController();
    ctl.abort();
    await expect(attackEach([softmax], x, { attack: 'fgsm', params: { eps: 0.1 }, target: null }, ctl.signal)).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(attackEach([lr], x, { attack: 'fgsm', params: { eps: 0.1 }, target: 5 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
