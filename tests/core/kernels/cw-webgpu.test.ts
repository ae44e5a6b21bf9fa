import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { countWebGpuPrograms } from '../../../src/cli/webgpu';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { cwL2 as cwAttack } from '../../../src/core/attacks/cw';
import { cwBest, cwGpuAvailable } from '../../../src/core/kernels/cw-webgpu';
import { BOX, CASES, kernelOutputs, opPath, rand, SHAPE, SIZE } from '../../helpers/cw-cases';
import { setFusedKernels } from '../../../src/core/kernels/fused';
import type { Classifier } from '../../../src/core/models/types';
import { maxRelativeError } from '../../helpers/close';

/**
 * CW-L2's WebGPU kernels (src/core/kernels/cw-webgpu.ts) in Node on Dawn (Mesa llvmpipe here): each
 * against the op path of attacks/cw.ts written out on the cpu backend, then whole attacks against the
 * op path on the same device, with the GPU programs per iteration.
 */
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
      const got = kernelOutputs(c, want);
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
