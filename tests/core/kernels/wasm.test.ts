import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { patchWasmKernels } from '../../../src/core/kernels/wasm';
import { useNodeBackend } from '../../../src/cli/backend';

/** Deterministic uniform [-1, 1) values (mulberry32). */
function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs `fn` on `backend` with fresh tensors built from `specs`; returns the outputs as arrays. */
async function runOn(
  backend: 'cpu' | 'wasm',
  specs: Array<{ shape: number[]; seed: number }>,
  fn: (...xs: tf.Tensor[]) => tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(() => {
    const xs = specs.map((s) => tf.tensor(randomValues(size(s.shape), s.seed), s.shape));
    return fn(...xs);
  });
  const arrays = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return arrays;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** Asserts that wasm (patched) and cpu agree, and that wasm leaks no tensors or data buffers. */
async function expectAgree(
  specs: Array<{ shape: number[]; seed: number }>,
  fn: (...xs: tf.Tensor[]) => tf.Tensor[],
  tol = 1e-4,
): Promise<void> {
  const ref = await runOn('cpu', specs, fn);
  await tf.setBackend('wasm');
  const tensorsBefore = tf.memory().numTensors;
  const dataIdsBefore = tf.engine().backend.numDataIds();
  const got = await runOn('wasm', specs, fn);
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore);
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    expect(got[i].length).toBe(ref[i].length);
    expect(maxRelDiff(got[i], ref[i])).toBeLessThan(tol);
  }
}

type Pad = 'same' | 'valid';

/** d/dx and d/dfilter of sum(conv2d(x, f) * r): exercises Conv2DBackpropInput and ...Filter. */
function convGrads(stride: number, pad: Pad) {
  return (x: tf.Tensor, f: tf.Tensor): tf.Tensor[] => {
    const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad);
    const r = tf.tensor(randomValues(y.size, 99), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), r)));
    return [y, ...g([x, f])];
  };
}

describe('patched wasm kernels', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true); // engine checks every kernel for leaked data ids
    expect(await useNodeBackend('wasm')).toBe('wasm');
    patchWasmKernels(); // idempotent: a second call must change nothing
  });

  it('Sign is exact for tiny magnitudes (wasm ships one that flushes |x| < ~1e-6 to 0)', async () => {
    const vals = [1e-5, 1e-7, 1e-10, -1e-12, 1e-30, -3, 0];
    await tf.setBackend('wasm');
    const w = tf.tidy(() => tf.sign(tf.tensor(vals)).dataSync());
    await tf.setBackend('cpu');
    const c = tf.tidy(() => tf.sign(tf.tensor(vals)).dataSync());
    expect(Array.from(w)).toEqual([1, 1, 1, -1, 1, -1, 0]);
    expect(Array.from(w)).toEqual(Array.from(c));
  });

  it('registers Conv2DBackpropFilter for wasm', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  const convCases: Array<{ x: number[]; f: number[]; stride: number; pad: Pad }> = [
    { x: [3, 9, 10, 2], f: [3, 3, 2, 4], stride: 1, pad: 'same' },
    { x: [3, 9, 10, 2], f: [3, 3, 2, 4], stride: 1, pad: 'valid' },
    { x: [2, 10, 11, 3], f: [3, 3, 3, 5], stride: 2, pad: 'same' },
    { x: [2, 10, 11, 3], f: [3, 3, 3, 5], stride: 2, pad: 'valid' },
    { x: [4, 12, 12, 1], f: [5, 5, 1, 6], stride: 1, pad: 'valid' },
    { x: [2, 8, 8, 4], f: [4, 2, 4, 3], stride: 1, pad: 'same' },
    { x: [2, 9, 9, 2], f: [4, 4, 2, 3], stride: 2, pad: 'same' },
  ];
  for (const c of convCases) {
    it(`conv2d grads match cpu: x ${c.x} f ${c.f} stride ${c.stride} ${c.pad}`, async () => {
      await expectAgree([{ shape: c.x, seed: 1 }, { shape: c.f, seed: 2 }], convGrads(c.stride, c.pad));
    });
  }

  it('fused conv2d (bias + relu, as tf.layers uses) grads match cpu', async () => {
    await expectAgree(
      [{ shape: [3, 12, 12, 2], seed: 3 }, { shape: [5, 5, 2, 4], seed: 4 }, { shape: [4], seed: 5 }],
      (x, f, b) => {
        const loss = (a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.square(tf.fused.conv2d({
          x: a as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'valid', bias, activation: 'relu',
        })));
        return tf.grads(loss)([x, f, b]);
      });
  });

  it('conv2dTranspose with stride 1 (Conv2DBackpropInput forward) matches cpu', async () => {
    await expectAgree([{ shape: [2, 6, 7, 4], seed: 6 }, { shape: [3, 3, 2, 4], seed: 7 }],
      (dy, f) => [
        tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [2, 8, 9, 2], 1, 'valid'),
        tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [2, 6, 7, 2], 1, 'same'),
      ]);
  });

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matMul transposeA=${ta} transposeB=${tb}: value and grads match cpu`, async () => {
      const aShape = ta ? [7, 5] : [5, 7];
      const bShape = tb ? [3, 7] : [7, 3];
      await expectAgree([{ shape: aShape, seed: 8 }, { shape: bShape, seed: 9 }], (a, b) => {
        const r = tf.tensor(randomValues(15, 10), [5, 3]);
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb), r)));
        return [tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb), ...g([a, b])];
      });
    });
  }

  it('batched rank-3 matMul with transposes matches cpu', async () => {
    await expectAgree([{ shape: [4, 6, 5], seed: 11 }, { shape: [4, 3, 6], seed: 12 }],
      (a, b) => [tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, true, true)]);
  });

  it('accepts bare TensorInfo inputs and leaves the caller data alive', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(randomValues(2 * 7 * 7 * 3, 16), [2, 7, 7, 3]);
    const dy = tf.tensor(randomValues(2 * 4 * 4 * 5, 17), [2, 4, 4, 5]);
    const before = tf.memory().numTensors;
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 5] };
    const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const viaInfo = tf.engine().runKernel('Conv2DBackpropFilter', { x: info(x), dy: info(dy) } as never, attrs as never) as tf.Tensor;
    const viaTensor = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy } as never, attrs as never) as tf.Tensor;
    expect(viaInfo.shape).toEqual([3, 3, 3, 5]);
    expect(maxRelDiff(viaInfo.dataSync() as Float32Array, viaTensor.dataSync() as Float32Array)).toBe(0);
    expect(x.dataSync()[0]).toBe(randomValues(1, 16)[0]); // still readable: not freed by the kernel
    tf.dispose([viaInfo, viaTensor]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
  });

  it('dense layer gradients (fused matMul) match cpu', async () => {
    await expectAgree(
      [{ shape: [16, 30], seed: 13 }, { shape: [30, 20], seed: 14 }, { shape: [20], seed: 15 }],
      (x, w, b) => tf.grads((a: tf.Tensor, k: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.square(
        tf.fused.matMul({ a: a as tf.Tensor2D, b: k as tf.Tensor2D, bias, activation: 'relu' }))))([x, w, b]));
  });
});
