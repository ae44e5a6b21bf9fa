import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { fgsm } from '../../../src/core/attacks/fgsm';
import { quantizeAdversarial } from '../../../src/core/image/quantize';
import type { Classifier } from '../../../src/core/models/types';

/** A 2×2×1 linear two-class model: Z = [0, w·x + b]; class 1 where w·x + b > 0. */
function linear(w: number[], b: number): Classifier {
  const wt = tf.tensor2d(w, [4, 1]);
  const bt = tf.scalar(b);
  return {
    id: 'linear',
    inputShape: [2, 2, 1],
    inputRange: { min: 0, max: 1 },
    classNames: ['0', '1'],
    logits: (x) =>
      tf.tidy(() => {
        const s = tf.add(tf.matMul(tf.reshape(x, [x.shape[0], 4]), wt), bt);
        return tf.concat([tf.zerosLike(s), s], 1) as tf.Tensor2D;
      }),
    dispose: () => tf.dispose([wt, bt]),
  };
}
const z = (w: number[], b: number, levels: Uint8Array): number => levels.reduce((s, q, i) => s + (w[i] * q) / 255, b);

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe('quantizeAdversarial', () => {
  it("keeps 'nearest' when rounding does not undo the attack", async () => {
    const w = [1, 0, 0, 0];
    const m = linear(w, -0.3);
    const r = await quantizeAdversarial(m, Float32Array.from([0.1, 0, 0, 0]), Float32Array.from([0.6, 0, 0, 0]), { label: 0, targeted: false });
    expect(r.method).toBe('nearest');
    expect(r.success).toBe(true);
    expect(Array.from(r.levels)).toEqual([153, 0, 0, 0]);
    expect(r.predicted).toBe(1);
    m.dispose();
  });

  it("rounds away from the original when the nearest level falls back across the boundary ('away')", async () => {
    // Boundary at level 127.2: the adversarial sits at 127.4 (class 1); nearest (127) is class 0 again.
    const w = [1, 0, 0, 0];
    const b = -127.2 / 255;
    const m = linear(w, b);
    const before = tf.memory().numTensors;
    const r = await quantizeAdversarial(m, Float32Array.from([0.3, 0.5, 0.5, 0.5]), Float32Array.from([127.4 / 255, 0.5, 0.5, 0.5]), { label: 0, targeted: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.method).toBe('away');
    expect(r.levels[0]).toBe(128);
    expect(z(w, b, r.levels)).toBeGreaterThan(0);
    expect(r.success).toBe(true);
    expect(r.predicted).toBe(1);
    m.dispose();
  });

  it("searches along the gradient when both roundings fail ('search'), within the L∞ budget", async () => {
    // Targeted to class 0 (w·x + b < 0): the attack lowered x0 (helps) and raised x1 (hurts) and ends
    // just below the boundary; nearest and away-from-original both round x1 up across it again.
    const w = [1, 1, 0, 0];
    const b = -200.9 / 255;
    const m = linear(w, b);
    const orig = Float32Array.from([110 / 255, 95 / 255, 0, 0]);
    const adv = Float32Array.from([100.2 / 255, 100.6 / 255, 0, 0]);
    const r = await quantizeAdversarial(m, orig, adv, { label: 0, targeted: true }, { maxLinf: 12 / 255, stepFraction: 0.25 });
    expect(r.method).toBe('search');
    expect(r.steps).toBeGreaterThan(0);
    expect(r.success).toBe(true);
    expect(z(w, b, r.levels)).toBeLessThan(0);
    expect(r.linf).toBeLessThanOrEqual(12 / 255 + 1e-6);
    m.dispose();
  });

  it("says 'failed' and exports the nearest rounding when no rounding holds", async () => {
    const w = [1, 0, 0, 0];
    const m = linear(w, -127.2 / 255);
    // Budget of 0: only the original's own levels are allowed, which are class 0.
    const r = await quantizeAdversarial(m, Float32Array.from([0.3, 0, 0, 0]), Float32Array.from([127.4 / 255, 0, 0, 0]), { label: 0, targeted: false }, { maxLinf: 0 });
    expect(r.method).toBe('failed');
    expect(r.success).toBe(false);
    expect(r.predicted).toBe(0);
    m.dispose();
  });

  it('rejects bad input with BAD_INPUT', async () => {
    const m = linear([1, 0, 0, 0], 0);
    const x = new Float32Array(4);
    await expect(quantizeAdversarial(m, x, new Float32Array(3), { label: 0, targeted: false })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(quantizeAdversarial(m, x, x, { label: 2, targeted: false })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(quantizeAdversarial(m, x, Float32Array.from([Number.NaN, 0, 0, 0]), { label: 0, targeted: false })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(quantizeAdversarial(m, x, x, { label: 0, targeted: false }, { maxSteps: -1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    m.dispose();
  });

  it('real CW-like boundary adversarials of mnist-lenet: every exported PNG-level image re-classifies as adversarial (targeted)', async () => {
    // Targeted FGSM at a small ε, then pulled back halfway to the boundary: fragile to rounding.
    const lenet = await loadShippedClassifier('mnist-lenet');
    const test = loadMnist('test');
    const before = tf.memory().numTensors;
    let held = 0;
    let tried = 0;
    for (let i = 0; i < 16; i++) {
      const x0 = test.images.slice(i * 784, (i + 1) * 784);
      const target = (test.labels[i] + 1) % 10;
      const x = tf.tensor4d(x0, [1, 28, 28, 1]);
      const t = tf.tensor1d([target], 'int32');
      // The smallest ε (of a grid) at which targeted FGSM succeeds: an adversarial near the boundary.
      let adv: Float32Array | null = null;
      for (const eps of [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]) {
        const a = fgsm(lenet, x, { eps, y: t, targeted: true });
        const p = tf.tidy(() => tf.argMax(lenet.logits(a), 1));
        const hit = (await p.data())[0] === target;
        const v = (await a.data()) as Float32Array;
        tf.dispose([a, p]);
        if (hit) {
          adv = v;
          break;
        }
      }
      tf.dispose([x, t]);
      if (!adv) continue;
      tried++;
      const r = await quantizeAdversarial(lenet, x0, adv, { label: target, targeted: true });
      // The exported bytes, classified independently of the function's own verdict.
      const check = tf.tidy(() => tf.argMax(lenet.logits(tf.tensor4d(Float32Array.from(r.levels, (q) => q / 255), [1, 28, 28, 1])), 1));
      const cls = (await check.data())[0];
      check.dispose();
      expect(cls).toBe(r.predicted);
      expect(r.success).toBe(cls === target);
      if (r.success) held++;
    }
    expect(tried).toBeGreaterThan(4);
    expect(held).toBe(tried);
    expect(tf.memory().numTensors).toBe(before);
    lenet.dispose();
  }, 60_000);
});
