import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { patchWebGpuKernels, patchWebGpuUploads } from '../../../src/core/kernels/webgpu';
import { mulberry32 } from '../../../src/core/random';

/**
 * The WebGPU Conv2DBackpropInput replacement (a forward conv of the padded dy with the flipped filter)
 * against the cpu backend's gradient, in Node on Dawn (Mesa llvmpipe here).
 */
interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: number;
  pad: 'valid' | 'same';
}
const CASES: Case[] = [
  { name: 'lenet conv1 (28×28×1, 5×5×32, valid)', x: [2, 28, 28, 1], w: [5, 5, 1, 32], strides: 1, pad: 'valid' },
  { name: 'lenet conv2 (12×12×32, 5×5×64, valid)', x: [3, 12, 12, 32], w: [5, 5, 32, 64], strides: 1, pad: 'valid' },
  { name: 'same padding, odd kernel, non-square', x: [2, 9, 7, 3], w: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'same padding, even kernel', x: [1, 8, 8, 2], w: [4, 2, 2, 3], strides: 1, pad: 'same' },
  { name: 'stride 2 (falls back to the shipped kernel)', x: [2, 10, 10, 2], w: [3, 3, 2, 4], strides: 2, pad: 'same' },
];

const rand = (n: number, seed: number): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** dL/dx for L = Σ conv2d(x, w) ⊙ R, R fixed (the cotangent reaching Conv2DBackpropInput is R). */
function inputGrad(c: Case, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor4d(rand(size(c.x), seed), c.x);
    const w = tf.tensor4d(rand(size(c.w), seed + 1), c.w);
    const y = tf.conv2d(x, w, c.strides, c.pad);
    const r = tf.tensor(rand(y.size, seed + 2), y.shape);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, w, c.strides, c.pad), r)))(x);
  });
}

const reference = new Map<string, Float32Array>();

beforeAll(async () => {
  await tf.setBackend('cpu');
  CASES.forEach((c, i) => reference.set(c.name, inputGrad(c, 10 * i).dataSync() as Float32Array));
  await useNodeBackend('webgpu');
  patchWebGpuKernels();
}, 120_000);

describe('WebGPU Conv2DBackpropInput as a forward conv', () => {
  it('is registered on the webgpu backend (idempotent)', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(patchWebGpuKernels()).toBe(true);
    expect(patchWebGpuKernels()).toBe(true);
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: equals the cpu gradient, no tensor leak', async (_, c, i) => {
    const before = tf.memory().numTensors;
    let g: tf.Tensor | undefined;
    const prof = await tf.profile(() => {
      g = inputGrad(c, 10 * i);
      return g;
    });
    // The replacement flips the filter (a Reverse kernel inside the backward pass); stride 2 keeps the shipped shader.
    expect(prof.kernels.some((k) => k.name === 'Reverse')).toBe(c.strides === 1);
    const got = (await g!.data()) as Float32Array;
    g!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const want = reference.get(c.name)!;
    expect(got.length).toBe(want.length);
    let maxErr = 0;
    let maxRef = 0;
    for (let k = 0; k < got.length; k++) {
      maxErr = Math.max(maxErr, Math.abs(got[k] - want[k]));
      maxRef = Math.max(maxRef, Math.abs(want[k]));
    }
    expect(maxRef).toBeGreaterThan(0.1);
    expect(maxErr / maxRef).toBeLessThan(1e-4);
  });
});

describe('WebGPU uploads through queue.writeBuffer', () => {
  it('is installed only on the webgpu backend (idempotent)', () => {
    expect(patchWebGpuUploads()).toBe(true);
    expect(patchWebGpuUploads()).toBe(true);
  });

  it('float32, int32 and bool data, JS-number operands and repeated uploads read back exactly, no tensor leak', async () => {
    expect(patchWebGpuUploads()).toBe(true);
    const before = tf.memory().numTensors;
    const r = mulberry32(7);
    for (let round = 0; round < 30; round++) {
      const n = 1 + Math.floor(r() * 3000);
      const a = Float32Array.from({ length: n }, () => r() * 4 - 2);
      const b = Int32Array.from({ length: n }, () => Math.floor(r() * 200) - 100);
      const c = Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
      const k = r() * 10 - 5;
      // Uploads interleaved with GPU work whose inputs were freed back to the pool within the same batch.
      const out = tf.tidy(() => {
        const ta = tf.tensor1d(a);
        const tb = tf.tensor1d(b, 'int32');
        const tc = tf.tensor1d(c, 'bool');
        const s = tf.add(tf.mul(ta, k), tf.cast(tb, 'float32'));
        return tf.where(tc, s, tf.neg(s));
      });
      const got = (await out.data()) as Float32Array;
      out.dispose();
      for (let i = 0; i < n; i++) {
        const s = Math.fround(Math.fround(a[i] * Math.fround(k)) + b[i]);
        expect(got[i]).toBe(c[i] ? s : -s);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the same CW-style gradient as the cpu backend (uploads inside a backward pass)', async () => {
    const x = rand(64 * 5, 3);
    const f = (v: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.sub(tf.clipByValue(tf.tanh(v), -0.5, 0.75), 0.1))) as tf.Scalar;
    const gpu = tf.tidy(() => tf.grad(f)(tf.tensor2d(x, [64, 5])));
    const got = (await gpu.data()) as Float32Array;
    gpu.dispose();
    await tf.setBackend('cpu');
    const cpu = tf.tidy(() => tf.grad(f)(tf.tensor2d(x, [64, 5])));
    const want = cpu.dataSync();
    cpu.dispose();
    await tf.setBackend('webgpu');
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });
});
