import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier, loadShippedVae } from '../../../src/cli/models';
import { magnet, reconstruct, reconstructionError } from '../../../src/core/defenses/magnet';
import { vaeFromLayersModels } from '../../../src/core/models/vae';
import type { Classifier, Vae } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

/** A tiny seeded MLP VAE: [28,28,1] → 8 → (mean, logVar) ∈ R³ → 8 → 784 logits. */
function tinyVae(seed = 1): Vae {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const image = tf.input({ shape: [28, 28, 1] });
  const h = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(1) }).apply(tf.layers.flatten().apply(image)) as tf.SymbolicTensor;
  const mean = tf.layers.dense({ units: 3, kernelInitializer: init(2) }).apply(h) as tf.SymbolicTensor;
  const logVar = tf.layers.dense({ units: 3, kernelInitializer: init(3) }).apply(h) as tf.SymbolicTensor;
  const z = tf.input({ shape: [3] });
  const dh = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(4) }).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.reshape({ targetShape: [28, 28, 1] }).apply(tf.layers.dense({ units: 784, kernelInitializer: init(5) }).apply(dh)) as tf.SymbolicTensor;
  return vaeFromLayersModels(tf.model({ inputs: image, outputs: [mean, logVar] }), tf.model({ inputs: z, outputs: out }), { id: 'tiny-vae', decoderOutput: 'logits' });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('reconstructionError', () => {
  it('is the per-image mean of |x − r| (l1) or (x − r)² (l2), checked against a plain loop', () => {
    const x = randomImages(3, 1);
    const r = randomImages(3, 2);
    const xs = x.dataSync();
    const rs = r.dataSync();
    for (const metric of ['l1', 'l2'] as const) {
      const e = reconstructionError(x, r, metric);
      const got = e.dataSync();
      e.dispose();
      for (let i = 0; i < 3; i++) {
        let s = 0;
        for (let p = 0; p < 784; p++) {
          const d = xs[i * 784 + p] - rs[i * 784 + p];
          s += metric === 'l1' ? Math.abs(d) : d * d;
        }
        expect(got[i]).toBeCloseTo(s / 784, 5);
      }
    }
    const zero = reconstructionError(x, x, 'l1');
    expect(Array.from(zero.dataSync())).toEqual([0, 0, 0]);
    tf.dispose([x, r, zero]);
  });
});

describe('magnet (tiny models)', () => {
  let vae: Vae;
  let clf: Classifier;
  beforeAll(() => {
    vae = tinyVae();
    clf = tinyClassifier();
  });
  afterAll(() => {
    vae.dispose();
    clf.dispose();
  });

  it('run: scores = error of decode(encode(x).mean), flagged = score > threshold, reformer = classifier on the reconstruction', async () => {
    const x = randomImages(6, 3);
    const base = tf.memory().numTensors;
    const [expScores, expLabels] = tf.tidy(() => {
      const r = vae.decode(vae.encode(x).mean);
      return [reconstructionError(x, r, 'l2').dataSync(), tf.argMax(clf.logits(r), 1).dataSync()];
    });
    const sorted = Array.from(expScores).sort((a, b) => a - b);
    const threshold = sorted[2]; // three images strictly above (random scores do not tie)
    const m = magnet(vae, clf, { metric: 'l2', threshold });
    const r = await m.run(x);
    expect(tf.memory().numTensors).toBe(base);
    expect(r.n).toBe(6);
    expect(r.classes).toBe(10);
    for (let i = 0; i < 6; i++) {
      expect(r.scores[i]).toBeCloseTo(expScores[i], 6);
      expect(r.flagged[i]).toBe(expScores[i] > threshold);
      expect(r.reformedLabels[i]).toBe(expLabels[i]);
      const row = Array.from(r.reformedProbs.subarray(i * 10, i * 10 + 10));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(row.indexOf(Math.max(...row))).toBe(r.reformedLabels[i]);
    }
    expect(r.flagged.filter(Boolean)).toHaveLength(3);
    // The tensor-level functions agree with run() and leak nothing.
    const s = m.scores(x);
    expect(Array.from(s.dataSync()).map((v, i) => v - r.scores[i]).every((d) => Math.abs(d) < 1e-6)).toBe(true);
    const rec = m.reconstruct(x);
    const direct = reconstruct(vae, x);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(rec, direct))).dataSync()[0])).toBe(0);
    const logits = m.reformedLogits(x);
    expect(logits.shape).toEqual([6, 10]);
    tf.dispose([s, rec, direct, logits]);
    expect(tf.memory().numTensors).toBe(base);
    x.dispose();
  });

  it('rejects bad calibrations, mismatched shapes and wrong batches with BAD_INPUT', () => {
    const bad = expect.objectContaining({ code: 'BAD_INPUT' });
    expect(() => magnet(vae, clf, { metric: 'l3' as 'l1', threshold: 0.1 })).toThrowError(bad);
    expect(() => magnet(vae, clf, { metric: 'l1', threshold: Number.NaN })).toThrowError(bad);
    expect(() => magnet(vae, clf, { metric: 'l1', threshold: -1 })).toThrowError(bad);
    const wide: Classifier = { ...clf, inputShape: [32, 32, 3] };
    expect(() => magnet(vae, wide, { metric: 'l1', threshold: 0.1 })).toThrowError(bad);
    const m = magnet(vae, clf, { metric: 'l1', threshold: 0.1 });
    const wrong = tf.zeros([2, 14, 14, 1]) as tf.Tensor4D;
    const base = tf.memory().numTensors;
    expect(() => m.scores(wrong)).toThrowError(bad);
    return expect(m.run(wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' }).finally(() => {
      expect(tf.memory().numTensors).toBe(base);
      wrong.dispose();
    });
  });
});

describe('magnet (shipped mnist-vae, mnist-lenet, real MNIST test digits)', () => {
  it('digits reconstruct better than noise, and the reformer keeps most digits right', async () => {
    const vae = await loadShippedVae('mnist-vae');
    const clf = await loadShippedClassifier('mnist-lenet');
    const test = loadMnist('test');
    const n = 50;
    const x = tf.tensor4d(test.images.subarray(0, n * 784), [n, 28, 28, 1]);
    const noise = randomImages(n, 11);
    const base = tf.memory().numTensors;
    const m = magnet(vae, clf, { metric: 'l1', threshold: 0 });
    const digits = await m.run(x);
    const noisy = await m.run(noise);
    expect(tf.memory().numTensors).toBe(base);
    expect(Math.max(...digits.scores)).toBeLessThan(Math.min(...noisy.scores));
    let right = 0;
    for (let i = 0; i < n; i++) if (digits.reformedLabels[i] === test.labels[i]) right++;
    expect(right / n).toBeGreaterThan(0.9);
    tf.dispose([x, noise]);
    vae.dispose();
    clf.dispose();
  });
});
