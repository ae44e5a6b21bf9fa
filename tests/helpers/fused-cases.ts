/**
 * The fused kernels' test cases (src/core/kernels/fused.ts), shared by the WebGPU test in Node
 * (tests/core/kernels/fused.test.ts) and the WebGL test in headless Chromium (tests/e2e/webgl-kernels.test.ts):
 * each runs one fused function on seeded inputs, to compare with the op path and the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropyDz, maxPoolGrad, reluGrad, signStep } from '../../src/core/kernels/fused';
import { mulberry32 } from '../../src/core/random';

export const rand = (n: number, seed: number, scale = 1): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};
export const relu = (a: Float32Array): Float32Array => a.map((v) => Math.max(0, v));

/** `cpu: false`: no cpu reference (tied maxima, which the cpu backend routes to the first, webgpu and wasm to the last). */
export type Case = { name: string; run: () => tf.Tensor; cpu?: false };
interface PoolCase {
  name: string;
  shape: [number, number, number, number];
  pool: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same';
  relu: boolean;
  /** The pool's input is a ReLU's output (many tied zeros). */
  reluInput: boolean;
}
const POOLS: PoolCase[] = [
  { name: 'lenet pool 2×2/2 valid after a ReLU, fused mask', shape: [3, 24, 24, 4], pool: [2, 2], strides: [2, 2], pad: 'valid', relu: true, reluInput: true },
  { name: 'the same without the mask (ties at 0 go to the last maximum)', shape: [3, 24, 24, 4], pool: [2, 2], strides: [2, 2], pad: 'valid', relu: false, reluInput: true },
  { name: '3×3/2 same padding, odd size', shape: [2, 7, 9, 3], pool: [3, 3], strides: [2, 2], pad: 'same', relu: false, reluInput: false },
  { name: '3×3/1 valid, overlapping windows, masked', shape: [2, 6, 5, 2], pool: [3, 3], strides: [1, 1], pad: 'valid', relu: true, reluInput: true },
  { name: '2×3/1×2 same, non-square', shape: [1, 5, 8, 2], pool: [2, 3], strides: [1, 2], pad: 'same', relu: false, reluInput: false },
];

export const logitsData = (): Float32Array => {
  const z = rand(7 * 10, 1, 5);
  // Row 6: a confident example (gap 40: p_y rounds to 1 in float32); row 5: a tie between classes 2 and 7.
  z[6 * 10 + 3] = 45;
  z[5 * 10 + 2] = 9;
  z[5 * 10 + 7] = 9;
  return z;
};
export const LABELS = [0, 9, 4, 4, 1, 7, 3];

export const CASES: Case[] = [
  { name: 'crossEntropyDz, labels', run: () => crossEntropyDz(tf.tensor2d(logitsData(), [7, 10]), tf.tensor1d(LABELS, 'int32')) },
  { name: 'crossEntropyDz, argmax (first maximum on a tie)', run: () => crossEntropyDz(tf.tensor2d(logitsData(), [7, 10])) },
  { name: 'reluGrad', run: () => reluGrad(tf.tensor(rand(2 * 9 * 9 * 5, 2), [2, 9, 9, 5]), tf.tensor(relu(rand(2 * 9 * 9 * 5, 3)), [2, 9, 9, 5])) },
  ...POOLS.map((c, i): Case => ({
    name: `maxPoolGrad: ${c.name}`,
    ...(c.reluInput && !c.relu ? { cpu: false as const } : {}),
    run: () =>
      tf.tidy(() => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor4d(c.reluInput ? relu(rand(n, 10 + i)) : rand(n, 10 + i), c.shape);
        const y = tf.maxPool(x, c.pool, c.strides, c.pad);
        const dy = tf.tensor4d(rand(y.size, 20 + i), y.shape as [number, number, number, number]);
        return maxPoolGrad(dy, x, y, c.pool, c.strides, c.pad, c.relu);
      }),
  })),
  {
    name: 'signStep (FGSM: box clip, g with zeros)',
    run: () => tf.tidy(() => signStep(tf.tensor4d(rand(300, 4).map((v) => v * 0.5 + 0.5), [3, 10, 10, 1]), tf.tensor4d(rand(300, 5).map((v) => (Math.abs(v) < 0.2 ? 0 : v)), [3, 10, 10, 1]), 0.3, 0, 1)),
  },
  {
    name: 'signStep (BIM: negative step, ε-ball then box)',
    run: () =>
      tf.tidy(() => {
        const x0 = tf.tensor4d(rand(300, 6).map((v) => v * 0.5 + 0.5), [3, 10, 10, 1]);
        const x = tf.clipByValue(tf.add(x0, tf.tensor4d(rand(300, 7, 0.2), [3, 10, 10, 1])), 0, 1) as tf.Tensor4D;
        return signStep(x, tf.tensor4d(rand(300, 8), [3, 10, 10, 1]), -0.07, 0, 1, { x0, radius: 0.15 });
      }),
  },
];

