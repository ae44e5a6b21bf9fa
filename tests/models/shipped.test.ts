import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { datasetSplit } from '../../src/cli/datasets';
import { loadShippedClassifier, loadShippedVae, readCard } from '../../src/cli/models';
import { CARD_ELBO, testElbo } from '../../src/core/metrics/elbo';
import { CATALOG } from '../../src/core/models/catalog';
import { accuracy } from '../../src/core/metrics/evaluate';

/**
 * Every shipped model loads through the extension's own loader and its card's test accuracy is
 * what we measure now on the full real test set; the targets hold.
 */
const TARGETS: Record<string, number> = {
  'mnist-lenet': 0.99,
  'mnist-softmax': 0.92,
  'mnist-fc10-1e-4': 0,
  'mnist-fc10-1e-2': 0,
  'mnist-fc10-1': 0,
  'mnist-fc100-100-10': 0.975,
  'mnist-fc200-200-10': 0.975,
  'mnist-ae400-10': 0.97,
  'mnist-lr-3v7': 0.98,
  'mnist-lr-3v7-adv': 0,
  'mnist-maxout': 0.988,
  'mnist-maxout-adv': 0.988,
  'mnist-ensemble-5': 0,
  'mnist-vae-clf': 0.95,
  'mnist-gpdnn': 0.99,
  'mnist-gpdnn-nn': 0.99,
  'fashion-cnn': 0.9,
};

function dirBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (s, d) => s + (d.isDirectory() ? dirBytes(join(dir, d.name)) : statSync(join(dir, d.name)).size),
    0,
  );
}

const measured = new Map<string, number>();

beforeAll(async () => {
  await useNodeBackend('wasm');
});

const classifiers = CATALOG.filter((e) => e.kind !== 'vae');

describe.each(classifiers.map((e) => [e.id, e] as const))('shipped model %s', (id, entry) => {
  it('loads; its card’s test accuracy is what we measure on the full real test set (±0.3 pt) and meets its target', async () => {
    const card = readCard(id);
    expect(card.id).toBe(id);
    expect(card.dataset).toBe(entry.dataset);
    const set = datasetSplit(entry.dataset, 'test');
    expect(card.testN).toBe(set.n);
    const model = await loadShippedClassifier(id);
    expect(model.inputShape).toEqual([28, 28, 1]);
    const before = tf.memory().numTensors;
    const acc = await accuracy(model, set);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    measured.set(id, acc);
    expect(Math.abs(acc - card.testAccuracy!)).toBeLessThanOrEqual(0.003);
    expect(acc).toBeGreaterThanOrEqual(TARGETS[id] ?? 1);
  });
});

describe.each(CATALOG.filter((e) => e.kind === 'vae').map((e) => [e.id] as const))('shipped VAE %s', (id) => {
  it('loads; its card’s test ELBO is what we measure on the full test set (same seeded estimator)', async () => {
    const card = readCard(id);
    const set = datasetSplit('mnist', 'test');
    expect(card.testN).toBe(set.n);
    const vae = await loadShippedVae(id);
    const before = tf.memory().numTensors;
    const r = await testElbo(vae, set.images, set.n, CARD_ELBO);
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
    expect(Number.isFinite(r.elbo)).toBe(true);
    expect(Math.abs(r.elbo - card.testElbo!)).toBeLessThanOrEqual(0.5);
    // A VAE that learned something: far better than coding each pixel as a fair coin (−784 ln 2 ≈ −543).
    expect(r.elbo).toBeGreaterThan(-150);
  });
});

describe('models/', () => {
  it('every catalog entry ships, with a target, and models/ stays under 20 MB', () => {
    for (const e of CATALOG) {
      expect(statSync(join('models', e.id, 'card.json')).isFile(), e.id).toBe(true);
      if (e.kind !== 'vae') expect(TARGETS[e.id], e.id).toBeTypeOf('number');
    }
    expect(dirBytes('models')).toBeLessThan(20 * 1024 * 1024);
  });

  it('GPDNN is within 0.2 pt of its NN twin', () => {
    if (!measured.has('mnist-gpdnn') || !measured.has('mnist-gpdnn-nn')) {
      expect(CATALOG.some((e) => e.id === 'mnist-gpdnn')).toBe(false);
      return;
    }
    expect(Math.abs(measured.get('mnist-gpdnn')! - measured.get('mnist-gpdnn-nn')!)).toBeLessThanOrEqual(0.002);
  });

  it('a model with truncated weights fails with MODEL_LOAD_FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-corrupt-'));
    try {
      const id = 'mnist-lenet';
      const target = join(dir, id);
      mkdirSync(target);
      copyFileSync(join('models', id, 'model.json'), join(target, 'model.json'));
      const w = readFileSync(join('models', id, 'weights.bin'));
      writeFileSync(join(target, 'weights.bin'), w.subarray(0, Math.floor(w.length / 3)));
      await expect(loadShippedClassifier(id, dir)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
