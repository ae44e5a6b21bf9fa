import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { cwL2 } from '../../../src/core/attacks/cw';
import { cwAdam, cwBestCpu, cwForward, cwFusedAvailable, cwSeedAndMargin, setCwFusedKernels } from '../../../src/core/kernels/cw-step';
import { tapeFreeVjp, vjpFor } from '../../../src/core/models/chain';

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

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: the seed-and-margin and best-so-far kernels give the op path's values exactly`, async () => {
      await useNodeBackend(backend);
      const n = 6;
      // Row 2 has a tie for the largest other logit (both entries get ∂max/∂Z = 1); rows 4–5 meet the goal.
      const zRows = [
        [1, 5, 2, 0, 0, 0, 0, 0, 0, 0], [3, 1, 0, 4, 0, 0, 0, 0, 0, 0], [0, 2, 7, 0, 1, 7, 0, 0, 0, 0],
        [9, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 8, 0, 0, 0, 0.5], [-1, -2, 6, 0, 0, 0, 0, 0, 0, 0.25],
      ];
      const labels = [1, 0, 1, 9, 5, 2];
      const before = tf.memory().numTensors;
      const z = tf.tensor2d(zRows.flat().map((v, i) => v + (i % 3) * 0.1), [n, 10]);
      const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D);
      const labelMask = tf.mul(oneHot, 1e10) as tf.Tensor2D;
      const c = tf.tensor1d([0.001, 0.5, 2, 10, 3, 1]);
      for (const targeted of [true, false]) {
        for (const kappa of [0, 0.7]) {
          const got = cwSeedAndMargin(z, oneHot, labelMask, c, { negKappa: -kappa, targeted });
          // cw.ts's op path (modelPart's seed).
          const want = tf.tidy(() => {
            const shifted = tf.sub(z, labelMask);
            const other = tf.max(shifted, 1);
            const real = tf.sum(tf.mul(z, oneHot), 1);
            const margin = targeted ? tf.sub(other, real) : tf.sub(real, other);
            const otherMask = tf.cast(tf.equal(shifted, tf.reshape(other, [n, 1])), 'float32');
            const dm = targeted ? tf.sub(otherMask, oneHot) : tf.sub(oneHot, otherMask);
            const active = tf.cast(tf.greaterEqual(margin, tf.fill([], -kappa)), 'float32');
            return { margin, seed: tf.mul(dm, tf.reshape(tf.mul(c, active), [n, 1])) };
          });
          expect(Array.from(await got.margin.data())).toEqual(Array.from(await want.margin.data()));
          expect(Array.from(await got.seed.data())).toEqual(Array.from(await want.seed.data()));
          // Not trivially zero; the tie (row 2: 7.1 at classes 2 and 5) gives both entries ∂max/∂Z = 1.
          expect((await got.seed.data()).some((v) => v !== 0)).toBe(true);
          if (targeted && kappa === 0) expect(Array.from((await got.seed.data()).subarray(20, 30))).toEqual([0, -2, 2, 0, 0, 2, 0, 0, 0, 0]);
          tf.dispose([got.seed, got.margin, want.seed, want.margin]);
        }
      }
      // Best-so-far: rows 0–3 miss the goal, 4 improves, 5 succeeds without improving.
      const margin = tf.tensor1d([1, 0.5, 0, 2, -3, -1]);
      const l2 = tf.tensor1d([1, 2, 3, 4, 5, 9]);
      const bestL2 = tf.tensor1d([Infinity, 1, 1, Infinity, 7, 8]);
      const adv = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      const bestAdv = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
      const stepSucc = tf.tensor1d([true, false, false, false, false, false], 'bool');
      const got = cwBestCpu({ margin, l2, bestL2, adv, bestAdv, stepSucc }, -0.5);
      const want = tf.tidy(() => {
        const succ = tf.less(margin, tf.fill([], -0.5));
        const improved = tf.logicalAnd(succ, tf.less(l2, bestL2));
        return {
          stepSucc: tf.logicalOr(stepSucc, succ),
          bestL2: tf.where(improved, l2, bestL2),
          bestAdv: tf.where(tf.reshape(improved, [n, 1, 1, 1]), adv, bestAdv),
        };
      });
      expect(got.stepSucc.dtype).toBe('bool');
      expect(Array.from(await got.stepSucc.data())).toEqual([1, 0, 0, 0, 1, 1]);
      expect(Array.from(await got.stepSucc.data())).toEqual(Array.from(await want.stepSucc.data()));
      expect(Array.from(await got.bestL2.data())).toEqual(Array.from(await want.bestL2.data()));
      expect(Array.from(await got.bestAdv.data())).toEqual(Array.from(await want.bestAdv.data()));
      tf.dispose([got.stepSucc, got.bestL2, got.bestAdv, want.stepSucc, want.bestL2, want.bestAdv, margin, l2, bestL2, adv, bestAdv, stepSucc, z, oneHot, labelMask, c]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('the VJP skips its backward pass for a seed of null, and otherwise equals the plain VJP', async () => {
    await useNodeBackend('wasm');
    const model = await loadShippedClassifier('mnist-lenet');
    const vjp = tapeFreeVjp(model);
    expect(vjp?.unlessZero).toBeDefined();
    const test = loadMnist('test');
    const x = tf.tensor4d(test.images.subarray(0, 2 * 784), [2, 28, 28, 1]);
    const seed = tf.tensor2d([[1, 0, 0, 0, 0, 0, 0, 0, -1, 0], [0, 2, 0, 0, 0, 0, 0, 0, 0, 0]]);
    const before = tf.memory().numTensors;
    let kernels: string[] = [];
    const prof = await tf.profile(() => {
      const r = vjp!.unlessZero!(x, () => null);
      expect(r.grad).toBeNull();
      return r.logits;
    });
    kernels = prof.kernels.map((k) => k.name);
    tf.dispose(prof.result as tf.Tensor);
    expect(kernels).not.toContain('Conv2DBackpropInput');
    expect(kernels).toContain('FusedConv2D');
    expect(tf.memory().numTensors).toBe(before);
    const a = vjp!.unlessZero!(x, () => seed);
    const b = vjp!(x, () => seed);
    const logits = model.logits(x);
    expect(Array.from(await a.logits.data())).toEqual(Array.from(await logits.data()));
    expect(Array.from(await (a.grad as tf.Tensor).data())).toEqual(Array.from(await b.grad.data()));
    expect((await b.grad.data()).some((v) => v !== 0)).toBe(true);
    tf.dispose([a.logits, a.grad as tf.Tensor, b.logits, b.grad, logits]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, seed]);
    model.dispose();
  });

  it('whole CW-L2 attacks (wasm): the seed kernel and the skipped backward passes change no bit of the result', async () => {
    await useNodeBackend('wasm');
    setCwFusedKernels(true);
    const model = await loadShippedClassifier('mnist-lenet');
    const vjp = tapeFreeVjp(model);
    // The same model whose VJP has no zero-skipping form: cw.ts then takes the op path's seed and every backward pass.
    const plain = { ...model, logitsAndVjp: vjpFor(model.logits, (x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D) => vjp!(x, seed)) };
    expect(tapeFreeVjp(plain)?.unlessZero).toBeUndefined();
    const test = loadMnist('test');
    // One image, as the popup attacks: a batch skips a backward pass only when all its images meet the goal.
    const x = tf.tensor4d(test.images.subarray(0, 784), [1, 28, 28, 1]);
    const y = tf.tensor1d([(test.labels[0] + 1) % 10], 'int32');
    const run = async (m: typeof model) => {
      let out = { adv: [] as number[], success: [] as boolean[] };
      const prof = await tf.profile(async () => {
        const r = await cwL2(m, x, { y, targeted: true, binarySteps: 6, maxIterations: 300 });
        out = { adv: Array.from(await r.adv.data()), success: r.success };
        r.adv.dispose();
      });
      return { ...out, backward: prof.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length };
    };
    const skipping = await run(model);
    const full = await run(plain);
    console.log(`cw backward passes (2 convs each): ${skipping.backward / 2} with skipping, ${full.backward / 2} without`);
    expect(skipping.backward).toBeLessThan(full.backward);
    expect(skipping.success).toEqual(full.success);
    expect(skipping.success.some(Boolean)).toBe(true);
    expect(skipping.adv).toEqual(full.adv);
    tf.dispose([x, y]);
    model.dispose();
  }, 120_000);

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
