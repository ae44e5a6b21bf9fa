import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../src/core/random';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/cli/data';
import { classifierFromLayersModel } from '../../src/core/models/layers';
import { subsetDataset, weightDecayPenalty } from '../../training/supervised';
import { adversarialLogisticLoss, buildDenseNet, fgsmAccuracy, ZOO_SIMPLE_SPECS } from '../../training/zoo-simple';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});


function syntheticDataset(labels: number[], seed = 3): Dataset {
  const r = mulberry32(seed);
  const images = new Float32Array(labels.length * 784);
  for (let i = 0; i < images.length; i++) images[i] = r();
  return { images, labels: Uint8Array.from(labels), n: labels.length, rows: 28, cols: 28 };
}

describe('simple zoo: specs and builders', () => {
  it('builds every dense spec with the expected parameter count and output width', () => {
    const expected: Record<string, [number, number]> = {
      'mnist-softmax': [7850, 10],
      'mnist-fc10-1e-4': [7850, 10],
      'mnist-fc10-1e-2': [7850, 10],
      'mnist-fc10-1': [7850, 10],
      'mnist-fc100-100-10': [89610, 10],
      'mnist-fc200-200-10': [199210, 10],
      'mnist-ae400-10': [318010, 10],
      'mnist-lr-3v7': [785, 1],
      'mnist-lr-3v7-adv': [785, 1],
    };
    for (const [id, [params, out]] of Object.entries(expected)) {
      const model = ZOO_SIMPLE_SPECS[id].build(1);
      expect(model.countParams(), id).toBe(params);
      expect(model.outputs[0].shape, id).toEqual([null, out]);
      expect(model.inputs[0].shape, id).toEqual([null, 28, 28, 1]);
      model.dispose();
    }
    expect(ZOO_SIMPLE_SPECS['mnist-lr-3v7'].output).toBe('binary-logit');
    expect(ZOO_SIMPLE_SPECS['mnist-lr-3v7'].subset).toEqual({ classes: [3, 7], name: 'mnist-3v7' });
  });

  it('the same seed gives the same initial weights', () => {
    const a = buildDenseNet('a', [20], 10)(5);
    const b = buildDenseNet('b', [20], 10)(5);
    a.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(b.getWeights()[i].dataSync())));
    a.dispose();
    b.dispose();
  });
});

describe('simple zoo: training pieces', () => {
  it('subsetDataset keeps the chosen digits in order and relabels them 0..k-1', () => {
    const ds = syntheticDataset([3, 1, 7, 7, 2, 3]);
    const sub = subsetDataset(ds, [3, 7]);
    expect(sub.n).toBe(4);
    expect(Array.from(sub.labels)).toEqual([0, 1, 1, 0]);
    expect(Array.from(sub.images.subarray(784, 2 * 784))).toEqual(Array.from(ds.images.subarray(2 * 784, 3 * 784)));
  });

  it('weightDecayPenalty is λ·Σ‖W‖² over kernels only, per layer when given a map', () => {
    const model = buildDenseNet('m', [4], 3)(2);
    model.getLayer('fc1').setWeights([tf.fill([784, 4], 0.5), tf.fill([4], 9)]);
    model.getLayer('logits').setWeights([tf.fill([4, 3], 2), tf.fill([3], 9)]);
    const sq1 = 784 * 4 * 0.25;
    const sq2 = 4 * 3 * 4;
    expect(weightDecayPenalty(model, 0.1)!.dataSync()[0]).toBeCloseTo(0.1 * (sq1 + sq2), 3);
    expect(weightDecayPenalty(model, { logits: 0.01 })!.dataSync()[0]).toBeCloseTo(0.01 * sq2, 5);
    expect(weightDecayPenalty(model, undefined)).toBeNull();
    model.dispose();
  });

  it("Goodfellow's adversarial logistic loss is the logistic loss at the worst-case L∞ perturbation", () => {
    const model = buildDenseNet('lr', [], 1)(4);
    const ds = syntheticDataset([0, 1, 1, 0, 1]);
    const x = tf.tensor4d(ds.images, [ds.n, 28, 28, 1]);
    const labels = tf.tensor1d(Array.from(ds.labels), 'int32');
    const eps = 0.25;
    const adv = adversarialLogisticLoss(eps)({ model, out: model.predict(x) as tf.Tensor, labels }).dataSync()[0];
    // Unclipped worst case x' = x − ε·y·sign(w); the plain loss softplus(−y·z(x')) there.
    const w = model.getLayer('logit').getWeights()[0].dataSync();
    const xw = new Float32Array(ds.images.length);
    const y = Array.from(ds.labels, (l) => (l === 1 ? 1 : -1));
    for (let i = 0; i < ds.n; i++) for (let j = 0; j < 784; j++) xw[i * 784 + j] = ds.images[i * 784 + j] - eps * y[i] * Math.sign(w[j]);
    const z = (model.predict(tf.tensor4d(xw, [ds.n, 28, 28, 1])) as tf.Tensor).dataSync();
    const plain = y.reduce((s, yi, i) => s + Math.log1p(Math.exp(-yi * z[i])), 0) / ds.n;
    expect(adv).toBeCloseTo(plain, 4);
    model.dispose();
  });

  it('fgsmAccuracy on a logistic regression equals the closed-form worst case clip(x − ε·y·sign(w))', () => {
    const model = buildDenseNet('lr', [], 1)(6);
    const ds = syntheticDataset(Array.from({ length: 40 }, (_, i) => i % 2), 9);
    const clf = classifierFromLayersModel(model, { id: 'lr', classNames: ['3', '7'], output: 'binary-logit' });
    const w = model.getLayer('logit').getWeights()[0].dataSync();
    const eps = 0.05;
    const xw = new Float32Array(ds.images.length);
    for (let i = 0; i < ds.n; i++) {
      const y = ds.labels[i] === 1 ? 1 : -1;
      for (let j = 0; j < 784; j++) xw[i * 784 + j] = Math.min(1, Math.max(0, ds.images[i * 784 + j] - eps * y * Math.sign(w[j])));
    }
    const z = (model.predict(tf.tensor4d(xw, [ds.n, 28, 28, 1])) as tf.Tensor).dataSync();
    const closed = Array.from(z).filter((zi, i) => (zi > 0 ? 1 : 0) === ds.labels[i]).length / ds.n;
    expect(fgsmAccuracy(clf, ds, eps, 16)).toBe(closed);
    clf.dispose();
  });
});
