import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { patchGradients } from '../../../src/core/kernels/gradients';
import { mulberry32 } from '../../../src/core/random';

/** The device-side Sum and Mean gradients against the broadcast of the cotangent, computed in JS. */
beforeAll(async () => {
  await tf.setBackend('cpu');
  expect(patchGradients()).toBe(true);
  expect(patchGradients()).toBe(true);
});

const SHAPE = [3, 4, 5];
const size = SHAPE.reduce((a, b) => a * b, 1);
const rand = (n: number, seed: number): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};
/** The flat index of x's element i in an output where `axes` were reduced (keepDims shape). */
function reducedIndex(i: number, axes: number[]): number {
  const coords = [];
  let rest = i;
  for (let d = SHAPE.length - 1; d >= 0; d--) {
    coords[d] = rest % SHAPE[d];
    rest = Math.floor(rest / SHAPE[d]);
  }
  let idx = 0;
  for (let d = 0; d < SHAPE.length; d++) {
    const dim = axes.includes(d) ? 1 : SHAPE[d];
    idx = idx * dim + (axes.includes(d) ? 0 : coords[d]);
  }
  return idx;
}

describe.each(['cpu', 'webgpu'] as const)('Sum and Mean gradients (%s)', (backend) => {
  beforeAll(async () => {
    if (backend === 'webgpu') await useNodeBackend('webgpu');
    else await tf.setBackend('cpu');
  }, 120_000);

  const cases: [string, number | number[] | undefined, boolean][] = [
    ['all axes', undefined, false],
    ['axis 1', 1, false],
    ['axes [0, 2], keepDims', [0, 2], true],
    ['axis -1', -1, false],
  ];
  it.each(cases)('%s: dL/dx is the cotangent broadcast (÷ count for mean); no leak', async (_, axis, keepDims) => {
    const axes = axis === undefined ? [0, 1, 2] : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + SHAPE.length : a));
    const count = axes.reduce((p, a) => p * SHAPE[a], 1);
    const xv = rand(size, 1);
    for (const op of ['sum', 'mean'] as const) {
      const before = tf.memory().numTensors;
      const x = tf.tensor3d(xv, SHAPE as [number, number, number]);
      const outShape = tf.tidy(() => (op === 'sum' ? tf.sum(x, axis, keepDims) : tf.mean(x, axis, keepDims)).shape);
      const r = rand(outShape.reduce((a, b) => a * b, 1), 2);
      const rt = tf.tensor(r, outShape);
      const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(op === 'sum' ? tf.sum(v, axis, keepDims) : tf.mean(v, axis, keepDims), rt)))(x));
      const got = await g.data();
      for (let i = 0; i < size; i++) {
        const want = r[reducedIndex(i, axes)] / (op === 'mean' ? count : 1);
        expect(got[i]).toBeCloseTo(want, 6);
      }
      tf.dispose([x, rt, g]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it(backend === 'webgpu' ? 'on a GPU backend, dy is broadcast on the device (Tile), not multiplied by uploaded ones' : "on a CPU backend, tfjs's own gradient runs (no Tile)", async () => {
    const x = tf.randomNormal([50, 784]);
    const info = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.sum(tf.square(v)))(x));
    expect(info.kernels.some((k) => k.name === 'Tile')).toBe(backend === 'webgpu');
    tf.dispose([x, info.result as tf.Tensor]);
  });
});
