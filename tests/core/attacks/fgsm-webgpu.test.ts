import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fgsm, distances } from '../../../src/core/attacks';
import { useNodeBackend } from '../../../src/cli/backend';
import type { Classifier } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

/**
 * FGSM on the real tfjs WebGPU backend, in Node through Dawn (Mesa llvmpipe on a CPU machine).
 * Same contract as on cpu, and the same answer as the cpu backend on inputs with no ties.
 */
let cpuAdv: Float32Array;
let model: Classifier;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = tinyClassifier(9);
  const x = randomImages(4, 3);
  cpuAdv = fgsm(model, x, { eps: 0.1 }).dataSync() as Float32Array;
  await useNodeBackend('webgpu');
}, 120_000);

afterAll(() => {
  model.dispose();
});

describe('fgsm on webgpu (Dawn in Node)', () => {
  it('runs on the webgpu backend', () => {
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('ε = 0 is the identity; output in range; L∞ ≤ ε; matches cpu; no tensor leak', async () => {
    const x = randomImages(4, 3);
    const before = tf.memory().numTensors;
    const same = fgsm(model, x, { eps: 0 });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(same, x))));
    expect(await diff.data()).toEqual(new Float32Array([0]));
    diff.dispose();
    const adv = fgsm(model, x, { eps: 0.1 });
    const v = (await adv.data()) as Float32Array;
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    const d = distances(adv, x);
    expect(Math.max(...((await d.linf.data()) as Float32Array))).toBeLessThanOrEqual(0.1 + 1e-6);
    let mismatches = 0;
    for (let i = 0; i < v.length; i++) if (Math.abs(v[i] - cpuAdv[i]) > 1e-4) mismatches++;
    // Gradient signs agree except where a gradient component is ~0 (float reassociation).
    expect(mismatches / v.length).toBeLessThan(0.01);
    tf.dispose([same, adv, d.l0, d.l2, d.linf]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
