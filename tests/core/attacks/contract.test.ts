import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS, distances } from '../../../src/core/attacks';
import type { Classifier } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

/**
 * One table-driven contract for every registered attack (Foolbox 3 style): ε = 0 is the
 * identity, output stays in the input range, the perturbation norm is ≤ ε, and no tensor leaks.
 */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cases = ATTACKS.flatMap((a) => a.norms.map((norm) => ({ attack: a, norm })));

describe.each(cases)('$attack.id (norm $norm)', ({ attack, norm }) => {
  let model: Classifier;
  let x: tf.Tensor4D;
  beforeAll(() => {
    model = tinyClassifier();
    x = randomImages(6);
  });

  it('ε = 0 returns the input unchanged', () => {
    const adv = attack.run(model, x, { eps: 0, norm });
    expect(adv.shape).toEqual(x.shape);
    expect(tf.max(tf.abs(tf.sub(adv, x))).arraySync()).toBe(0);
    adv.dispose();
  });

  it.each([0.01, 0.1, 0.3])('ε = %f: output within [min, max] and ‖δ‖ ≤ ε', (eps) => {
    const adv = attack.run(model, x, { eps, norm });
    expect(tf.min(adv).arraySync()).toBeGreaterThanOrEqual(model.inputRange.min);
    expect(tf.max(adv).arraySync()).toBeLessThanOrEqual(model.inputRange.max);
    const d = distances(adv, x);
    const worst = (norm === 'inf' ? d.linf : d.l2).max().arraySync() as number;
    expect(worst).toBeLessThanOrEqual(eps + 1e-5);
    // Attacks that are fixed-ε actually use their budget on random inputs (not all clipped away).
    expect(worst).toBeGreaterThan(eps * 0.5);
    tf.dispose([adv, d.l0, d.l2, d.linf]);
  });

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const adv = attack.run(model, x, { eps: 0.1, norm });
    adv.dispose();
    if (attack.targeted) {
      const y = tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32');
      attack.run(model, x, { eps: 0.1, norm, y, targeted: true }).dispose();
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
