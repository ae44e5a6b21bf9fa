import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fgsm } from '../../../src/core/attacks';
import { ProbeError } from '../../../src/core/errors';
import { classifierFromLayersModel } from '../../../src/core/models/layers';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A linear model w·x with known gradient: FGSM must step by ε·sign(w) exactly (Goodfellow's linear view). */
function linearClassifier(w: Float32Array) {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 2, useBias: false, weights: [tf.tensor2d(Array.from(w).flatMap((v) => [v, -v]), [784, 2])] }),
    ],
  });
  return classifierFromLayersModel(model, { id: 'linear', classNames: ['a', 'b'], output: 'logits' });
}

describe('fgsm', () => {
  it('steps by ε·sign(∇) on a linear model, away from the predicted class', () => {
    const w = new Float32Array(784).map((_, i) => ((i * 7919) % 13) - 6);
    const model = linearClassifier(w);
    const x = tf.fill([1, 28, 28, 1], 0.5) as tf.Tensor4D;
    // logits: [w·x, −w·x]; class 0 wins iff w·x > 0. d loss(y=0)/dx = −2(1−p0)·w → step −ε·sign(w).
    const pred = tf.argMax(model.logits(x), 1).arraySync() as number[];
    const adv = fgsm(model, x, { eps: 0.1 });
    const delta = tf.sub(adv, x).reshape([784]).arraySync() as number[];
    const sgn = pred[0] === 0 ? -1 : 1;
    for (let i = 0; i < 784; i++) {
      const expected = w[i] === 0 ? 0 : sgn * 0.1 * Math.sign(w[i]);
      expect(delta[i]).toBeCloseTo(expected, 5);
    }
  });

  it('targeted steps decrease the loss of the target class', () => {
    const model = tinyClassifier(3);
    const x = randomImages(8, 11);
    const t = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
    const logp = (xx: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.mul(tf.logSoftmax(model.logits(xx)), tf.oneHot(t, 10))).arraySync() as number);
    const adv = fgsm(model, x, { eps: 0.02, y: t, targeted: true });
    expect(logp(adv)).toBeGreaterThan(logp(x));
  });

  it('rejects a negative or non-finite ε and a targeted attack without targets', () => {
    const model = tinyClassifier();
    const x = randomImages(1);
    expect(() => fgsm(model, x, { eps: -0.1 })).toThrow(ProbeError);
    expect(() => fgsm(model, x, { eps: Number.NaN })).toThrow(/eps/);
    expect(() => fgsm(model, x, { eps: 0.1, targeted: true })).toThrow(/target/);
  });

  it('L2 variant has exactly norm ε before clipping (interior point)', () => {
    const model = tinyClassifier(5);
    const x = tf.fill([2, 28, 28, 1], 0.5) as tf.Tensor4D;
    const adv = fgsm(model, x, { eps: 0.2, norm: 2 });
    const l2 = tf.sqrt(tf.sum(tf.square(tf.sub(adv, x).reshape([2, -1])), 1)).arraySync() as number[];
    for (const v of l2) expect(v).toBeCloseTo(0.2, 4);
  });
});
