import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { countWebGpuPrograms } from '../../../src/cli/webgpu';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { cwL2 as cwAttack } from '../../../src/core/attacks/cw';
import { cwAdam, cwAdv, cwBest, cwGpuAvailable, cwL2, cwMargin, cwSeed } from '../../../src/core/kernels/cw-webgpu';
import { setFusedKernels } from '../../../src/core/kernels/fused';
import type { Classifier } from '../../../src/core/models/types';
import { mulberry32 } from '../../../src/core/random';
import { maxRelativeError } from '../../helpers/close';

/**
 * CW-L2's WebGPU kernels (src/core/kernels/cw-webgpu.ts) in Node on Dawn (Mesa llvmpipe here): each
 * against the op path of attacks/cw.ts written out on the cpu backend, then whole attacks against the
 * op path on the same device, with the GPU programs per iteration.
 */
const rand = (n: number, seed: number, lo = -1, hi = 1): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};
const SHAPE: [number, number, number, number] = [3, 6, 5, 2];
const SIZE = 3 * 6 * 5 * 2;
// scale > (hi − lo)/2: x′ overshoots hi where tanh w > 2/3, so the clip and its zero gradient are exercised.
const BOX = { lo: -0.5, hi: 0.5, scale: 0.6 };
const ADAM = { b1: 0.9, b2: 0.999, eps: 1e-8 };
const LR = Float32Array.from([0.01, 0.0123, 0.0171]);
const Z = rand(4 * 10, 5, -6, 6);
// Row 3: a tie for the largest other logit (∂max/∂Z is 1 at both, as tf's Max gradient).
Z[30 + 4] = 7;
Z[30 + 8] = 7;
const LABELS = [2, 0, 9, 1];
const C = [0.5, 10, 3, 1];

/** The op path of attacks/cw.ts, written out (also the reference on the cpu backend). */
function opPath(targeted: boolean, negKappa: number): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const w = tf.tensor4d(rand(SIZE, 1, -4, 4), SHAPE);
    const x0 = tf.tensor4d(rand(SIZE, 2, -0.5, 0.5), SHAPE);
    const g = tf.tensor4d(rand(SIZE, 3), SHAPE);
    const m = tf.tensor4d(rand(SIZE, 4, -0.1, 0.1), SHAPE);
    const v = tf.tensor4d(rand(SIZE, 6, 0, 0.01), SHAPE);
    const t = tf.tanh(w);
    const u = tf.add(tf.mul(tf.add(t, 1), BOX.scale), BOX.lo);
    const adv = tf.clipByValue(u, BOX.lo, BOX.hi);
    const diff = tf.sub(adv, x0);
    const l2 = tf.sum(tf.square(tf.reshape(diff, [3, -1])), 1);
    const dA = tf.add(tf.mul(diff, 2), g);
    const inBox = tf.logicalAnd(tf.greaterEqual(u, BOX.lo), tf.lessEqual(u, BOX.hi));
    const grad = tf.mul(tf.mul(tf.where(inBox, dA, tf.zerosLike(dA)), BOX.scale), tf.sub(1, tf.square(t)));
    const m2 = tf.add(tf.mul(m, ADAM.b1), tf.mul(grad, 1 - ADAM.b1));
    const v2 = tf.add(tf.mul(v, ADAM.b2), tf.mul(tf.square(grad), 1 - ADAM.b2));
    const w2 = tf.sub(w, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), ADAM.eps)), LR[2]));
    const z = tf.tensor2d(Z, [4, 10]);
    const oneHot = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 10).toFloat();
    const labelMask = tf.mul(oneHot, 1e10);
    const shifted = tf.sub(z, labelMask);
    const other = tf.max(shifted, 1);
    const real = tf.sum(tf.mul(z, oneHot), 1);
    const margin = targeted ? tf.sub(other, real) : tf.sub(real, other);
    const otherMask = tf.cast(tf.equal(shifted, tf.reshape(other, [4, 1])), 'float32');
    const dm = targeted ? tf.sub(otherMask, oneHot) : tf.sub(oneHot, otherMask);
    const active = tf.cast(tf.greaterEqual(margin, negKappa), 'float32');
    const seed = tf.mul(dm, tf.reshape(tf.mul(tf.tensor1d(C), active), [4, 1]));
    return { w, x0, g, m, v, z, oneHot, labelMask, adv, l2, w2, m2, v2, margin, seed };
  });
}

const CASES = [
  { targeted: false, negKappa: 0 },
  { targeted: true, negKappa: -2 },
];
const reference: Record<string, Float32Array>[] = [];
let model: Classifier;
let images: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const c of CASES) {
    const r = opPath(c.targeted, c.negKappa);
    reference.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, t.dataSync() as Float32Array])));
    tf.dispose(Object.values(r));
  }
  await useNodeBackend('webgpu');
  model = await loadShippedClassifier('mnist-lenet');
  images = tf.tensor4d(loadMnist('test').images.slice(0, 3 * 784), [3, 28, 28, 1]);
}, 180_000);

afterAll(() => {
  setFusedKernels(true);
  images?.dispose();
});

describe('CW-L2 WebGPU kernels', () => {
  it('are available on webgpu with the fused kernels on, not otherwise', async () => {
    expect(cwGpuAvailable()).toBe(true);
    setFusedKernels(false);
    expect(cwGpuAvailable()).toBe(false);
    setFusedKernels(true);
    await tf.setBackend('cpu');
    expect(cwGpuAvailable()).toBe(false);
    await tf.setBackend('webgpu');
  });

  it.each(CASES.map((c, i) => [c.targeted ? 'targeted, κ = 2' : 'untargeted, κ = 0', c, i] as const))(
    '%s: x′, ‖x′ − x₀‖², the margin, the seed and Adam equal the op path on the cpu backend; no tensor leak',
    async (_, c, i) => {
      const before = tf.memory().numTensors;
      const want = reference[i];
      const got = tf.tidy(() => {
        const t = (k: string, shape: number[]): tf.Tensor => tf.tensor(Float32Array.from(want[k]), shape);
        const [w, x0, g, m, v] = ['w', 'x0', 'g', 'm', 'v'].map((k) => t(k, SHAPE) as tf.Tensor4D);
        const [z, labelMask] = ['z', 'labelMask'].map((k) => t(k, [4, 10]) as tf.Tensor2D);
        // As cw.ts makes it: a float32 cast of int32 data (which tfjs-webgpu may bind as an array<i32>).
        const oneHot = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 10).toFloat() as tf.Tensor2D;
        const attrs = { negKappa: c.negKappa, targeted: c.targeted };
        const adv = cwAdv(w, BOX);
        const adam = cwAdam({ w, x0, g, m, v, lr: tf.tensor1d(LR) }, { ...BOX, ...ADAM, it: 2 });
        return {
          adv, l2: cwL2(adv, x0), margin: cwMargin(z, oneHot, labelMask, attrs), seed: cwSeed(z, oneHot, labelMask, tf.tensor1d(C), attrs),
          w2: adam.w, m2: adam.m, v2: adam.v,
        };
      });
      const data = Object.fromEntries(await Promise.all(Object.entries(got).map(async ([k, t]) => [k, await t.data()] as const)));
      tf.dispose(Object.values(got));
      expect(tf.memory().numTensors).toBe(before);
      // tanh: tfjs-webgpu's formula against the cpu's Math.tanh.
      for (const k of ['adv', 'l2', 'w2', 'm2', 'v2']) expect(maxRelativeError(data[k], want[k])).toBeLessThan(1e-5);
      expect(Array.from(data.margin)).toEqual(Array.from(want.margin));
      expect(Array.from(data.seed)).toEqual(Array.from(want.seed));
      // The clip was reached, and the tie put 1 at both tied entries.
      expect(want.adv.filter((a) => a === BOX.hi).length).toBeGreaterThan(5);
      expect(Math.abs(want.seed[30 + 4])).toBe(Math.abs(want.seed[30 + 8]));
    },
  );
});

describe('CW-L2 WebGPU bookkeeping (cwBest)', () => {
  it('keeps l2 and x′ where the point succeeds and improves, ors the step success; no tensor leak', async () => {
    const before = tf.memory().numTensors;
    const adv = rand(SIZE, 8);
    const bestAdv = rand(SIZE, 9);
    const l2 = [0.7, 0.2, 1.5];
    const r = tf.tidy(() =>
      cwBest(
        {
          margin: tf.tensor1d([-1, 0.5, -3]), // succeeds, fails, succeeds (−κ = 0)
          l2: tf.tensor1d(l2),
          bestL2: tf.tensor1d([Number.POSITIVE_INFINITY, 0.1, 1.2]), // improves, -, does not improve
          adv: tf.tensor4d(adv, SHAPE),
          bestAdv: tf.tensor4d(bestAdv, SHAPE),
          stepSucc: tf.tensor1d([false, true, false], 'bool'),
        },
        0,
      ),
    );
    expect(r.stepSucc.dtype).toBe('bool');
    const [bestL2, got, stepSucc] = await Promise.all([r.bestL2.data(), r.bestAdv.data(), r.stepSucc.data()]);
    tf.dispose([r.bestL2, r.bestAdv, r.stepSucc]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(bestL2)).toEqual([Math.fround(0.7), Math.fround(0.1), Math.fround(1.2)]);
    expect(Array.from(stepSucc)).toEqual([1, 1, 1]);
    const per = SIZE / 3;
    expect(Array.from(got)).toEqual(Array.from(got, (_, i) => (i < per ? adv[i] : bestAdv[i])));
  });
});

/** GPU programs run by `f`. */
const programs = async (f: () => Promise<unknown>): Promise<number> => (await countWebGpuPrograms(tf.backend(), f)).count;

describe('CW-L2 on mnist-lenet with the WebGPU kernels', () => {
  const attack = async (fused: boolean, maxIterations: number): Promise<{ l2: number[]; success: boolean[]; count: number }> => {
    setFusedKernels(fused);
    try {
      let out: { l2: number[]; success: boolean[] } = { l2: [], success: [] };
      const count = await programs(async () => {
        const y = tf.tensor1d([1, 2, 3], 'int32');
        const r = await cwAttack(model, images, { targeted: true, y, binarySteps: 1, initialConst: 10, maxIterations, abortEarly: false, abortChecks: 1 });
        const l2 = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(r.adv, images)), [1, 2, 3])));
        out = { l2: Array.from(await l2.data()), success: r.success };
        tf.dispose([y, r.adv, l2]);
      });
      return { ...out, count };
    } finally {
      setFusedKernels(true);
    }
  };

  it('targeted, c = 10, 40 steps: the same successes and distortions as the op path in under half the GPU programs per iteration; no tensor leak', async () => {
    const before = tf.memory().numTensors;
    const fused = await attack(true, 40);
    const ops = await attack(false, 40);
    expect(tf.memory().numTensors).toBe(before);
    expect(fused.success).toEqual(ops.success);
    expect(fused.success.filter((s) => s).length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 3; i++) if (ops.success[i]) expect(Math.abs(fused.l2[i] - ops.l2[i])).toBeLessThan(0.01 * ops.l2[i]);
    // Programs per iteration: the difference between 40 and 20 steps (set-up, the checks and the final check cancel).
    const perFused = (fused.count - (await attack(true, 20)).count) / 20;
    const perOps = (ops.count - (await attack(false, 20)).count) / 20;
    // cwAdv, cwL2, the model's forward (6), the seed, cwMargin, the backward (7), Adam (3), cwBest (3).
    expect(perFused).toBeLessThanOrEqual(25);
    expect(perOps).toBeGreaterThanOrEqual(2 * perFused);
  }, 180_000);
});
