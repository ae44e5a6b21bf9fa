import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { cwL2 } from '../../../src/core/attacks/cw';
import { cwAdam, cwForward, cwFusedAvailable, setCwFusedKernels } from '../../../src/core/kernels/cw-step';

/**
 * The fused CW-L2 kernels against the op path they replace: the same numbers to float32 rounding, per kernel and
 * for whole attacks on the shipped LeNet.
 */
afterAll(() => setCwFusedKernels(true));

/** The op path's forward part and Adam step, exactly as cw.ts writes them. */
function reference(w: tf.Tensor4D, x0: tf.Tensor4D, g: tf.Tensor4D, m0: tf.Tensor4D, v0: tf.Tensor4D, lrT: tf.Tensor1D, a: { lo: number; hi: number; scale: number; b1: number; b2: number; eps: number; it: number }) {
  return tf.tidy(() => {
    const t = tf.tanh(w);
    const u = tf.add(tf.mul(tf.add(t, 1), a.scale), a.lo);
    const adv = tf.clipByValue(u, a.lo, a.hi);
    const diff = tf.sub(adv, x0);
    const l2 = tf.sum(tf.square(tf.reshape(diff, [w.shape[0], -1])), 1);
    const dA = tf.add(tf.mul(diff, 2), g);
    const inBox = tf.logicalAnd(tf.greaterEqual(u, a.lo), tf.lessEqual(u, a.hi));
    const grad = tf.mul(tf.mul(tf.where(inBox, dA, tf.zerosLike(dA)), a.scale), tf.sub(1, tf.square(t)));
    const m = tf.add(tf.mul(m0, a.b1), tf.mul(grad, 1 - a.b1));
    const v = tf.add(tf.mul(v0, a.b2), tf.mul(tf.square(grad), 1 - a.b2));
    const wNext = tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), a.eps)), tf.slice(lrT, [a.it], [1])));
    return { t, adv, diff, l2, w: wNext, m, v };
  });
}

describe('fused CW-L2 kernels', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: forward and Adam match the op path to float32 rounding, and leak nothing`, async () => {
      await useNodeBackend(backend);
      setCwFusedKernels(true);
      expect(cwFusedAvailable()).toBe(true);
      const shape: [number, number, number, number] = [3, 28, 28, 1];
      // w large enough that tanh saturates for some pixels (x′ at the box's edges, where the clip decides).
      const w = tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 7), 4) as tf.Tensor4D;
      const x0 = tf.randomUniform(shape, 0, 1, 'float32', 8) as tf.Tensor4D;
      const g = tf.randomNormal(shape, 0, 0.1, 'float32', 9) as tf.Tensor4D;
      const m0 = tf.randomNormal(shape, 0, 0.01, 'float32', 10) as tf.Tensor4D;
      const v0 = tf.randomUniform(shape, 0, 0.01, 'float32', 11) as tf.Tensor4D;
      const lrT = tf.tensor1d([0.05, 0.031, 0.02]);
      const attrs = { lo: 0, hi: 1, scale: 0.5, b1: 0.9, b2: 0.999, eps: 1e-8, it: 1 };
      const before = tf.memory().numTensors;
      const fw = cwForward(w, x0, attrs);
      const ad = cwAdam({ w, t: fw.t, diff: fw.diff, g, m: m0, v: v0, lr: lrT }, attrs);
      const ref = reference(w, x0, g, m0, v0, lrT, attrs);
      const close = async (a: tf.Tensor, b: tf.Tensor, tol: number, what: string): Promise<void> => {
        const [x, y] = await Promise.all([a.data(), b.data()]);
        expect(x.length, what).toBe(y.length);
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
        expect(worst, what).toBeLessThanOrEqual(tol);
      };
      await close(fw.t, ref.t, 1e-6, 't');
      await close(fw.adv, ref.adv, 1e-6, 'adv');
      await close(fw.diff, ref.diff, 1e-6, 'diff');
      await close(fw.l2, ref.l2, 1e-5, 'l2');
      await close(ad.m, ref.m, 1e-6, 'm');
      await close(ad.v, ref.v, 1e-6, 'v');
      await close(ad.w, ref.w, 1e-5, 'w');
      // The box's edges: saturated pixels are exactly lo or hi.
      const advData = await fw.adv.data();
      expect(advData.some((p) => p === 1 || p === 0)).toBe(true);
      expect(Math.min(...advData)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...advData)).toBeLessThanOrEqual(1);
      tf.dispose([fw.t, fw.adv, fw.diff, fw.l2, ad.w, ad.m, ad.v, ...Object.values(ref)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([w, x0, g, m0, v0, lrT]);
    });
  }

  it('whole CW-L2 attacks on mnist-lenet (wasm): fused and op paths find the same adversarials', async () => {
    await useNodeBackend('wasm');
    const model = await loadShippedClassifier('mnist-lenet');
    const test = loadMnist('test');
    const x = tf.tensor4d(test.images.subarray(0, 4 * 784), [4, 28, 28, 1]);
    const run = async (fused: boolean) => {
      setCwFusedKernels(fused);
      const before = tf.memory().numTensors;
      const r = await cwL2(model, x, { binarySteps: 5, maxIterations: 300 });
      const l2 = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.reshape(tf.sub(r.adv, x), [4, -1])), 1)));
      const out = { success: r.success, l2: Array.from(await l2.data()), iterations: r.trace.map((t) => t.info.iterations) };
      tf.dispose([r.adv, l2]);
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const fused = await run(true);
    const ops = await run(false);
    expect(fused.success).toEqual(ops.success);
    expect(fused.success.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 4; i++) expect(Math.abs(fused.l2[i] - ops.l2[i])).toBeLessThanOrEqual(0.02 * Math.max(ops.l2[i], 1e-3));
    console.log(`cw fused vs ops: L2 ${fused.l2.map((v) => v.toFixed(4)).join(' ')} vs ${ops.l2.map((v) => v.toFixed(4)).join(' ')}; iterations ${fused.iterations.join(',')} vs ${ops.iterations.join(',')}`);
    x.dispose();
    model.dispose();
  }, 120_000);
});
