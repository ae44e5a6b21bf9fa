import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { loadFashionMnist, loadMnist } from '../../src/cli/data';
import { loadShippedClassifier, readCard } from '../../src/cli/models';
import { CATALOG } from '../../src/core/models/catalog';
import { accuracy } from '../../src/core/metrics/evaluate';

/** Minimum test accuracy of each shipped model (the targets). */
const TARGETS: Record<string, number> = { 'mnist-lenet': 0.99 };

function dirBytes(dir: string): number {
  return ['model.json', 'weights.bin', 'card.json'].reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe.each(CATALOG.map((e) => [e.id, e] as const))('shipped model %s', (id, entry) => {
  it('loads, and its card’s test accuracy is what eval measures on the full real test set (±0.3 pt) and meets its target', async () => {
    const card = readCard(id);
    expect(card.id).toBe(id);
    expect(card.dataset).toBe(entry.dataset);
    const set = entry.dataset === 'mnist' ? loadMnist('test') : loadFashionMnist('test');
    expect(card.testN).toBe(set.n);
    const model = await loadShippedClassifier(id);
    expect(model.inputShape).toEqual([28, 28, 1]);
    const before = tf.memory().numTensors;
    const acc = await accuracy(model, set);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    expect(Math.abs(acc - card.testAccuracy)).toBeLessThanOrEqual(0.003);
    expect(acc).toBeGreaterThanOrEqual(TARGETS[id] ?? 0);
  });
});

describe('models/', () => {
  it('stays under 20 MB in total and every catalog entry has a target', () => {
    const total = CATALOG.reduce((s, e) => s + dirBytes(join('models', e.id)), 0);
    expect(total).toBeLessThan(20 * 1024 * 1024);
    for (const e of CATALOG) expect(TARGETS[e.id]).toBeTypeOf('number');
  });

  it('a model with truncated weights fails with MODEL_LOAD_FAILED (once, no retries)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-corrupt-'));
    try {
      const id = CATALOG[0].id;
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
