import { beforeAll, describe, expect, it } from 'vitest';
import { requireAttack, resolveParams, type ClassifierAttackSpec } from '../../../src/core/attacks';
import { evaluateAttack } from '../../../src/core/metrics/evaluate';
import { useNodeBackend } from '../../../src/cli/backend';
import { datasetSplit } from '../../../src/cli/datasets';
import { loadShippedClassifier } from '../../../src/cli/models';

/**
 * Goodfellow et al.'s FGSM results (ε = 0.25) on our shipped models, full test sets. The paper's
 * "error rate" counts every test image: error = 1 − (correct and not fooled) / n.
 */
beforeAll(async () => {
  await useNodeBackend('wasm');
});

const fgsm = requireAttack('fgsm') as ClassifierAttackSpec;

describe.each([
  // id, dataset, minimum error (issue target), paper's error
  ['mnist-softmax', 'mnist', 0.99, 0.999],
  ['mnist-maxout', 'mnist', 0.85, 0.894],
  ['mnist-lr-3v7', 'mnist-3v7', 0.95, 0.99],
] as const)('FGSM ε = 0.25 on %s', (id, dataset, minError, _paperError) => {
  it(`error on the full test set ≥ ${minError}`, async () => {
    const set = datasetSplit(dataset, 'test');
    const model = await loadShippedClassifier(id);
    const r = await evaluateAttack(model, fgsm, set, resolveParams(fgsm, { eps: 0.25 }), { batch: 500 });
    model.dispose();
    const error = 1 - (r.attacked - r.successRate * r.attacked) / r.n;
    expect(r.n).toBe(set.n);
    expect(error).toBeGreaterThanOrEqual(minError);
    expect(r.meanLinf).toBeLessThanOrEqual(0.25 + 1e-6);
  }, 120_000);
});

describe('adversarial training (Goodfellow et al.)', () => {
  it.each([
    ['mnist-maxout', 'mnist-maxout-adv', 'mnist'],
    ['mnist-lr-3v7', 'mnist-lr-3v7-adv', 'mnist-3v7'],
  ] as const)('%s is fooled by FGSM far more often than %s', async (plain, adv, dataset) => {
    const set = datasetSplit(dataset, 'test');
    const rates: number[] = [];
    for (const id of [plain, adv]) {
      const model = await loadShippedClassifier(id);
      rates.push((await evaluateAttack(model, fgsm, set, resolveParams(fgsm, { eps: 0.25 }), { n: 2000, batch: 500 })).successRate);
      model.dispose();
    }
    expect(rates[0]).toBeGreaterThan(0.95);
    expect(rates[1]).toBeLessThan(0.2);
  }, 120_000);
});
