import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { countWebGpuPrograms } from '../../../src/cli/webgpu';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { bim } from '../../../src/core/attacks/bim';
import { fgsm } from '../../../src/core/attacks/fgsm';
import { crossEntropyDz, fusedKernelsActive, maxPoolGrad, setFusedKernels } from '../../../src/core/kernels/fused';
import { CASES, LABELS, logitsData } from '../../helpers/fused-cases';
import type { Classifier } from '../../../src/core/models/types';
import { maxRelativeError } from '../../helpers/close';

/**
 * The fused WebGPU kernels (src/core/kernels/fused.ts) in Node on Dawn (Mesa llvmpipe here): each against
 * the op path on the cpu backend, whole FGSM and BIM runs against the op path on the same device, the
 * number of GPU programs FGSM dispatches, and tensor leaks.
 */
const reference = new Map<string, Float32Array>();
const gpuOps = new Map<string, Float32Array>();
let model: Classifier;
let images: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const c of CASES) {
    const t = tf.tidy(c.run);
    reference.set(c.name, t.dataSync() as Float32Array);
    t.dispose();
  }
  const test = loadMnist('test');
  images = tf.tensor4d(test.images.slice(0, 6 * 784), [6, 28, 28, 1]);
  await useNodeBackend('webgpu');
  model = await loadShippedClassifier('mnist-lenet');
  setFusedKernels(false);
  for (const c of CASES) {
    const t = tf.tidy(c.run);
    gpuOps.set(c.name, (await t.data()) as Float32Array);
    t.dispose();
  }
  setFusedKernels(true);
}, 180_000);

afterAll(() => {
  setFusedKernels(true);
  images?.dispose();
});

/** GPU programs run by `f` (`probe`: those of src/core/kernels) and its result read back. */
async function dispatches(f: () => tf.Tensor): Promise<{ count: number; probe: number; data: Float32Array }> {
  const { result, count, probe } = await countWebGpuPrograms(tf.backend(), async () => {
    const t = tf.tidy(f);
    const data = (await t.data()) as Float32Array;
    t.dispose();
    return data;
  });
  return { count, probe, data: result };
}

describe('fused WebGPU kernels', () => {
  it('run on a GPU backend (webgpu here; webgl: tests/e2e/webgl-kernels.test.ts), not on cpu, and can be switched off', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(fusedKernelsActive()).toBe(true);
    setFusedKernels(false);
    expect(fusedKernelsActive()).toBe(false);
    setFusedKernels(true);
    await tf.setBackend('cpu');
    expect(fusedKernelsActive()).toBe(false);
    await tf.setBackend('webgpu');
    expect(fusedKernelsActive()).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: one GPU program, equals the op path on webgpu and cpu, no tensor leak', async (name, c) => {
    const before = tf.memory().numTensors;
    const { probe, data } = await dispatches(() => c.run());
    expect(tf.memory().numTensors).toBe(before);
    expect(probe).toBe(1);
    for (const want of [gpuOps.get(name)!, ...(c.cpu === false ? [] : [reference.get(name)!])]) {
      expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(0.01);
      expect(maxRelativeError(data, want)).toBeLessThan(2e-6);
    }
  });

  it('maxPoolGrad over more than 65,535 workgroups (tfjs splits the dispatch in two dimensions) equals the op path', async () => {
    const shape: [number, number, number, number] = [300, 24, 24, 32]; // 5.5 M threads, 86,400 workgroups of 64
    const before = tf.memory().numTensors;
    const x = tf.tidy(() => tf.relu(tf.randomNormal(shape, 0, 1, 'float32', 1)) as tf.Tensor4D);
    const y = tf.maxPool(x, 2, 2, 'valid');
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 2) as tf.Tensor4D;
    const grad = async (fused: boolean): Promise<Float32Array> => {
      setFusedKernels(fused);
      const g = maxPoolGrad(dy, x, y, [2, 2], [2, 2], 'valid', true);
      setFusedKernels(true);
      const d = (await g.data()) as Float32Array;
      g.dispose();
      return d;
    };
    const a = await grad(true);
    const b = await grad(false);
    tf.dispose([x, y, dy]);
    expect(tf.memory().numTensors).toBe(before);
    let differ = 0;
    let nonzero = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) differ++;
      if (a[i] !== 0) nonzero++;
    }
    expect(differ).toBe(0);
    expect(nonzero).toBeGreaterThan(a.length / 5);
  });

  it('crossEntropyDz keeps the y entry of a confident example (p_y rounds to 1) exact to float32', async () => {
    const got = await crossEntropyDz(tf.tensor2d(logitsData(), [7, 10]), tf.tensor1d(LABELS, 'int32')).data();
    const want = reference.get('crossEntropyDz, labels')!;
    const y = 6 * 10 + 3;
    expect(want[y]).toBeLessThan(0);
    expect(want[y]).toBeGreaterThan(-1e-15);
    expect(Math.abs(got[y] - want[y]) / Math.abs(want[y])).toBeLessThan(1e-5);
  });
});

describe('FGSM and BIM on mnist-lenet with the fused kernels', () => {
  const run = async (f: () => tf.Tensor, fused: boolean): Promise<{ count: number; probe: number; data: Float32Array }> => {
    setFusedKernels(fused);
    try {
      await dispatches(f); // warm-up: compiles the programs
      return await dispatches(f);
    } finally {
      setFusedKernels(true);
    }
  };

  it('FGSM: the same adversarials as the op path in under half the GPU programs, no tensor leak', async () => {
    const before = tf.memory().numTensors;
    const f = (): tf.Tensor => fgsm(model, images, { eps: 0.25 });
    const fused = await run(f, true);
    const ops = await run(f, false);
    expect(tf.memory().numTensors).toBe(before);
    let same = 0;
    for (let i = 0; i < ops.data.length; i++) if (fused.data[i] === ops.data[i]) same++;
    expect(same / ops.data.length).toBeGreaterThan(0.999);
    // Forward 6 (2 conv, 2 pool, 2 dense), dJ/dZ 1, backward 7, step 1.
    expect(fused.count).toBeLessThanOrEqual(15);
    expect(fused.probe).toBe(5); // dJ/dZ, the dense ReLU, 2 pool gradients with their ReLU, the step
    expect(ops.probe).toBe(0);
    expect(ops.count).toBeGreaterThanOrEqual(2 * fused.count);
  });

  it('BIM (L∞, 3 steps, targeted): the same adversarials as the op path', async () => {
    const before = tf.memory().numTensors;
    const y = tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32');
    const out = async (fused: boolean): Promise<Float32Array> => {
      setFusedKernels(fused);
      try {
        const a = await bim(model, images, { eps: 0.2, steps: 3, targeted: true, y });
        const d = (await a.data()) as Float32Array;
        a.dispose();
        return d;
      } finally {
        setFusedKernels(true);
      }
    };
    const fused = await out(true);
    const ops = await out(false);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const x = await images.data();
    let same = 0;
    let moved = 0;
    for (let i = 0; i < ops.length; i++) {
      if (fused[i] === ops[i]) same++;
      if (Math.abs(fused[i] - x[i]) > 1e-6) moved++;
    }
    expect(moved).toBeGreaterThan(100);
    expect(same / ops.length).toBeGreaterThan(0.999);
  });
});
