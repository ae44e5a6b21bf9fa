import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { getAttack, resolveParams, type ClassifierAttackSpec } from '../../../src/core/attacks';
import {
  adversarialError, classRegions, errorVsEps, kinkFraction, linearWeights, linspace, logitSweep, predictionChanges, signAgreement,
} from '../../../src/core/metrics/reproduce-goodfellow';
import type { Classifier } from '../../../src/core/models/types';
import { mulberry32 } from '../../../src/core/random';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

const fgsm = getAttack('fgsm') as ClassifierAttackSpec;

/** Logistic regression on 28×28 images: logits [0, w·x + b] (the shipped binary-logit convention). */
function linearBinary(w: Float32Array, b: number): Classifier {
  const W = tf.tensor2d(w, [784, 1]);
  return {
    id: 'lin', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 }, classNames: ['3', '7'],
    logits: (x) => tf.tidy(() => {
      const z = tf.add(tf.matMul(tf.reshape(x, [-1, 784]), W), b);
      return tf.concat([tf.zerosLike(z), z], 1) as tf.Tensor2D;
    }),
    dispose: () => W.dispose(),
  };
}

/** Ten-class linear softmax model z = xW + b with seeded weights. */
function linearTen(seed = 3): Classifier {
  const next = mulberry32(seed);
  const W = tf.tensor2d(Float32Array.from({ length: 7840 }, () => next() - 0.5), [784, 10]);
  return {
    id: 'lin10', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 }, classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    logits: (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [-1, 784]), W) as tf.Tensor2D),
    dispose: () => W.dispose(),
  };
}

const seededW = (seed: number): Float32Array => {
  const next = mulberry32(seed);
  return Float32Array.from({ length: 784 }, () => next() - 0.5);
};

/** n images in [0, 1] with labels = the model's own clean predictions (so clean error is 0). */
async function selfLabelled(model: Classifier, n: number, seed = 5): Promise<{ images: Float32Array; labels: Int32Array; n: number }> {
  const next = mulberry32(seed);
  const images = Float32Array.from({ length: n * 784 }, () => next());
  const p = tf.tidy(() => tf.argMax(model.logits(tf.tensor4d(images, [n, 28, 28, 1])), 1));
  const labels = Int32Array.from(await p.data());
  p.dispose();
  return { images, labels, n };
}

describe('adversarialError (Goodfellow et al. protocol)', () => {
  it('ε = 0 leaves the clean error; a large ε breaks a linear model on every image; tensors are freed', async () => {
    const m = linearBinary(seededW(1), 0.1);
    const set = await selfLabelled(m, 60);
    const before = tf.memory().numTensors;
    const zero = await adversarialError(m, fgsm, resolveParams(fgsm, { eps: 0 }), set, { batch: 25 });
    expect(zero).toMatchObject({ n: 60, cleanError: 0, adversarialError: 0, wrong: 0 });
    expect(Number.isNaN(zero.meanWrongConfidence)).toBe(true);
    const big = await adversarialError(m, fgsm, resolveParams(fgsm, { eps: 1 }), set, { batch: 25 });
    expect(big.adversarialError).toBe(1);
    expect(big.meanWrongConfidence).toBeGreaterThan(0.5);
    expect(big.meanWrongConfidence).toBeLessThanOrEqual(1);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('counts images the model already gets wrong, and uses n', async () => {
    const m = linearBinary(seededW(1), 0.1);
    const set = await selfLabelled(m, 40);
    const flipped = { ...set, labels: set.labels.map((l, i) => (i < 10 ? 1 - l : l)) };
    const r = await adversarialError(m, fgsm, resolveParams(fgsm, { eps: 0 }), flipped, { n: 20 });
    expect(r.n).toBe(20);
    expect(r.cleanError).toBeCloseTo(0.5, 12);
    expect(r.adversarialError).toBeCloseTo(0.5, 12);
    m.dispose();
  });

  it('crafts on another model when asked (transfer), and errorVsEps rises with ε on a linear model', async () => {
    const target = linearTen(3);
    const unrelated = linearTen(99);
    const set = await selfLabelled(target, 50);
    const params = resolveParams(fgsm, {});
    const own = await adversarialError(target, fgsm, { ...params, eps: 0.1 }, set);
    const transfer = await adversarialError(target, fgsm, { ...params, eps: 0.1 }, set, { craftOn: unrelated });
    expect(own.adversarialError).toBeGreaterThan(transfer.adversarialError);
    const curve = await errorVsEps(target, fgsm, params, set, [0, 0.02, 0.1]);
    expect(curve.map((p) => p.eps)).toEqual([0, 0.02, 0.1]);
    expect(curve[0].adversarialError).toBe(0);
    expect(curve[2].adversarialError).toBeGreaterThanOrEqual(curve[1].adversarialError);
    expect(curve[2].adversarialError).toBe(own.adversarialError);
    target.dispose();
    unrelated.dispose();
  });
});

describe('linearWeights', () => {
  it('recovers w and b of a logistic regression through the Classifier interface', async () => {
    const w = seededW(4);
    const m = linearBinary(w, -0.75);
    const r = await linearWeights(m);
    expect(r.b).toBeCloseTo(-0.75, 5);
    for (let i = 0; i < 784; i += 97) expect(r.w[i]).toBeCloseTo(w[i], 5);
    m.dispose();
  });

  it('refuses a model that is not linear, or not two-class', async () => {
    const W = tf.tensor2d(seededW(2), [784, 1]);
    const relu: Classifier = {
      id: 'relu', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b'],
      logits: (x) => tf.tidy(() => {
        const z = tf.relu(tf.sub(tf.matMul(tf.reshape(x, [-1, 784]), W), 1));
        return tf.concat([tf.zerosLike(z), z], 1) as tf.Tensor2D;
      }),
      dispose: () => W.dispose(),
    };
    await expect(linearWeights(relu, Float32Array.from({ length: 784 }, () => 1))).rejects.toThrow(/not linear/);
    const ten = linearTen();
    await expect(linearWeights(ten)).rejects.toThrow(/two-class/);
    relu.dispose();
    ten.dispose();
  });

  it('signAgreement: FGSM on a linear model moves every changed pixel by ±ε·sign(w)', async () => {
    const w = seededW(6);
    const m = linearBinary(w, 0);
    const set = await selfLabelled(m, 8);
    const x = tf.tensor4d(set.images, [8, 28, 28, 1]);
    const y = tf.tensor1d(set.labels, 'int32');
    const { adv } = await fgsm.run(m, x, { params: resolveParams(fgsm, { eps: 0.1 }), y });
    const a = (await adv.data()) as Float32Array;
    const g = signAgreement(set.images, a, w, set.labels);
    expect(g.changed).toBeGreaterThan(8 * 600);
    expect(g.fraction).toBe(1);
    // The wrong sign convention agrees nowhere.
    expect(signAgreement(set.images, a, w, set.labels.map((l) => 1 - l)).fraction).toBe(0);
    tf.dispose([x, y, adv]);
    m.dispose();
  });
});

describe('fig. 4 sweep helpers', () => {
  it('logitSweep of a linear model: logits exactly linear in ε, the class at ε = 0 is the clean prediction', async () => {
    const m = linearTen(8);
    const set = await selfLabelled(m, 1);
    const eps = linspace(-2, 2, 41);
    const s = await logitSweep(m, set.images, set.labels[0], eps);
    expect(s.logits).toHaveLength(41);
    expect(s.logits[0]).toHaveLength(10);
    expect(s.predicted[20]).toBe(set.labels[0]);
    expect(kinkFraction(s)).toBe(0);
    // Moving up the loss gradient lowers the true class's logit relative to the others.
    const margin = (i: number): number => s.logits[i][set.labels[0]] - Math.max(...s.logits[i].filter((_, c) => c !== set.labels[0]));
    expect(margin(40)).toBeLessThan(margin(20));
    expect(margin(0)).toBeGreaterThan(margin(20));
    m.dispose();
  });

  it('linspace, classRegions, predictionChanges and kinkFraction on hand-made sweeps', () => {
    expect(linspace(0, 0.3, 7)).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(linspace(0, 0.3, 13)).toContain(0.25);
    expect(() => linspace(0, 1, 1)).toThrow();
    const sweep = { eps: [-2, -1, 0, 1, 2, 3], predicted: [4, 4, 4, 7, 4, 9] };
    expect(classRegions(sweep, 4)).toEqual([[-2, 0], [2, 2]]);
    expect(classRegions(sweep, 5)).toEqual([]);
    expect(predictionChanges(sweep.predicted)).toBe(3);
    // |ε| (one kink at 0) vs a straight line.
    const vee = { logits: [-2, -1, 0, 1, 2].map((e) => [Math.abs(e), e]) };
    expect(kinkFraction(vee)).toBeCloseTo(1 / 3, 12);
    expect(kinkFraction({ logits: [-2, -1, 0, 1, 2].map((e) => [e, 2 * e]) })).toBe(0);
  });
});
