import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  clearWasmKernelCache, patchWasmKernels, shippedWasmKernel, wasmKernelCacheInfo,
} from '../../../src/core/kernels/wasm';
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

  it('Conv2DBackpropInput (stride 1): each dx is the float64 sum of its columns in (ky, kx) order, rounded once', async () => {
    await tf.setBackend('wasm');
    // Channel counts with and without a remainder after groups of four; valid and same padding; two images.
    for (const [ci, pad] of [[1, 'valid'], [3, 'same'], [4, 'valid'], [6, 'same'], [32, 'valid']] as const) {
      const [n, h, w, kh, kw, co] = [2, 9, 8, 3, 5, 5];
      const f = tf.tensor(randomValues(kh * kw * ci * co, 20 + ci), [kh, kw, ci, co]) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [kh, kw, ci, co], 1, 1, pad, undefined, false, 'channelsLast');
      const { outHeight: oh, outWidth: ow, padInfo } = info;
      const dy = tf.tensor(randomValues(n * oh * ow * co, 30 + ci), [n, oh, ow, co]) as tf.Tensor4D;
      const got = tf.conv2dTranspose(dy, f, [n, h, w, ci], 1, pad).dataSync() as Float32Array;
      // The columns as the kernel makes them: dy [N·OH·OW, Co] × filterᵀ [Co, KH·KW·Ci] (same XNNPACK matMul).
      const cols = tf.tidy(() => tf.matMul(tf.reshape(dy, [n * oh * ow, co]), tf.transpose(tf.reshape(f, [kh * kw * ci, co])))).dataSync() as Float32Array;
      const k = kh * kw * ci;
      let mismatches = 0;
      for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < ci; c++) {
        let sum = 0; // float64
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
          const oy = y + padInfo.top - ky;
          const ox = x + padInfo.left - kx;
          if (oy >= 0 && oy < oh && ox >= 0 && ox < ow) sum += cols[((b * oh + oy) * ow + ox) * k + (ky * kw + kx) * ci + c];
        }
        if (Math.fround(sum) !== got[((b * h + y) * w + x) * ci + c]) mismatches++;
      }
      expect(mismatches, `ci ${ci} ${pad}`).toBe(0);
      tf.dispose([f, dy]);
    }
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

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad, Identity, and a LeNet-like input gradient (the attacks' inner loop).

/** FLT_MIN, the shipped MaxPoolGrad's initial running max: values below it are never a window's max. */
const FLT_MIN = 1.1754943508222875e-38;

/** Values drawn from a small set (many ties, zeros, negatives, values around FLT_MIN, NaN when `nan`). */
function tieValues(n: number, seed: number, nan: boolean): Float32Array {
  const pool = [-1, 0, 0, 0.5, 1, 1, 2, 2, 1e-40, FLT_MIN, -0, ...(nan ? [NaN] : [])];
  const r = randomValues(n, seed);
  return Float32Array.from(r, (v) => pool[Math.floor(((v + 1) / 2) * pool.length) % pool.length]);
}

interface PoolCase {
  x: [number, number, number, number];
  f: number | [number, number];
  s: number | [number, number];
  pad: 'valid' | 'same' | number;
}

const poolCases: PoolCase[] = [
  { x: [2, 6, 6, 3], f: 2, s: 2, pad: 'valid' },   // the LeNet case (whole 2×2 windows)
  { x: [2, 7, 7, 3], f: 2, s: 2, pad: 'same' },    // clipped windows at the border
  { x: [2, 6, 6, 3], f: 3, s: 1, pad: 'same' },    // overlapping windows
  { x: [1, 5, 5, 2], f: 3, s: 2, pad: 'valid' },
  { x: [2, 5, 7, 2], f: [2, 3], s: [1, 2], pad: 'valid' },
  { x: [2, 6, 6, 3], f: 2, s: 2, pad: 1 },
  { x: [1, 6, 6, 2], f: 2, s: 2, pad: 3 },         // windows wholly in the padding
];

function poolOutShape(c: PoolCase): number[] {
  const info = tf.backend_util.computePool2DInfo(c.x, c.f, c.s, 1, c.pad);
  return [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
}

/** MaxPoolGrad through the registered (patched) kernel and through the shipped one, on wasm. */
function maxPoolGradBoth(c: PoolCase, x: tf.Tensor, dy: tf.Tensor): { patched: Float32Array; shipped: Float32Array } {
  const output = tf.zeros(dy.shape);
  const attrs = { filterSize: c.f, strides: c.s, pad: c.pad };
  const out = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output } as never, attrs as never) as tf.Tensor;
  const patched = out.dataSync() as Float32Array;
  const backend = tf.engine().backend;
  const shipped = shippedWasmKernel('MaxPoolGrad');
  expect(shipped).toBeDefined();
  const info = shipped!({ inputs: { dy, input: x, output }, backend, attrs: attrs as never }) as tf.TensorInfo;
  const ref = backend.readSync(info.dataId) as Float32Array;
  backend.disposeData(info.dataId);
  tf.dispose([out, output]);
  return { patched, shipped: ref };
}

function expectBitIdentical(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 5; i++) {
    if (!Object.is(got[i], want[i])) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
  }
  expect(bad).toEqual([]);
}

/** A LeNet-like net as tfjs layers build it: fused conv+bias+relu, max-pool, fused dense layers. */
const LENET_SHAPES = {
  c1: [5, 5, 1, 4], b1: [4], c2: [3, 3, 4, 8], b2: [8], w3: [32, 16], b3: [16], w4: [16, 5], b4: [5],
} as const;
type LenetParams = { -readonly [K in keyof typeof LENET_SHAPES]: tf.Tensor };
const LENET_X: [number, number, number, number] = [2, 16, 16, 1];

function lenetLogits(p: LenetParams, x: tf.Tensor4D): tf.Tensor2D {
  let h = tf.fused.conv2d({ x, filter: p.c1 as tf.Tensor4D, strides: 1, pad: 'valid', bias: p.b1, activation: 'relu' });
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.fused.conv2d({ x: h, filter: p.c2 as tf.Tensor4D, strides: 1, pad: 'valid', bias: p.b2, activation: 'relu' });
  h = tf.maxPool(h, 2, 2, 'valid');
  const f = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  const z = tf.fused.matMul({ a: f, b: p.w3 as tf.Tensor2D, bias: p.b3, activation: 'relu' });
  return tf.fused.matMul({ a: z, b: p.w4 as tf.Tensor2D, bias: p.b4 }) as tf.Tensor2D;
}

/** d/dx of sum(logits(x) · r): one forward and one backward pass w.r.t. the input. */
function lenetInputGrad(p: LenetParams, x: tf.Tensor4D, r: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(lenetLogits(p, xi as tf.Tensor4D), r)))(x) as tf.Tensor4D);
}

function lenetValues(seed: number): Record<keyof typeof LENET_SHAPES, Float32Array> {
  const out = {} as Record<keyof typeof LENET_SHAPES, Float32Array>;
  let k = 0;
  for (const [name, shape] of Object.entries(LENET_SHAPES)) {
    out[name as keyof typeof LENET_SHAPES] = randomValues(size([...shape]), seed + k++);
  }
  return out;
}

/** The same input gradient on the cpu backend from plain values (switches back to wasm after). */
async function cpuLenetInputGrad(
  params: Record<keyof typeof LENET_SHAPES, Float32Array>, x: Float32Array, r: Float32Array,
): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const g = tf.tidy(() => {
    const p = {} as LenetParams;
    for (const [name, shape] of Object.entries(LENET_SHAPES)) {
      p[name as keyof typeof LENET_SHAPES] = tf.tensor(params[name as keyof typeof LENET_SHAPES], [...shape]);
    }
    return lenetInputGrad(p, tf.tensor4d(x, LENET_X), tf.tensor2d(r, [LENET_X[0], 5])).dataSync() as Float32Array;
  });
  await tf.setBackend('wasm');
  return g;
}

describe('patched wasm kernels: MaxPoolGrad, Identity, LeNet input gradient', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    expect(await useNodeBackend('wasm')).toBe('wasm');
  });

  for (const c of poolCases) {
    it(`MaxPoolGrad is bit-identical to the shipped kernel with ties, zeros, NaN, ±Inf: x ${c.x} f ${c.f} s ${c.s} ${c.pad}`, async () => {
      await tf.setBackend('wasm');
      const yShape = poolOutShape(c);
      for (const [seed, nan] of [[21, false], [22, true], [23, false]] as const) {
        const x = tf.tensor(tieValues(size(c.x), seed, nan), c.x);
        const dyv = randomValues(size(yShape), seed + 100);
        if (seed === 23) { // non-finite and signed-zero gradients too
          dyv[0] = Infinity; dyv[1] = NaN; dyv[dyv.length - 1] = -Infinity; dyv[2] = -0;
        }
        const dy = tf.tensor(dyv, yShape);
        const { patched, shipped } = maxPoolGradBoth(c, x, dy);
        expectBitIdentical(patched, shipped);
        tf.dispose([x, dy]);
      }
      // All-zero input: the shipped kernel routes window gradients to flat offset 0 only.
      const x0 = tf.zeros(c.x);
      const dy0 = tf.tensor(randomValues(size(yShape), 5), yShape);
      const z = maxPoolGradBoth(c, x0, dy0);
      expectBitIdentical(z.patched, z.shipped);
      tf.dispose([x0, dy0]);
    });
  }

  it('MaxPoolGrad matches cpu on tie-free positive inputs (cpu breaks ties differently)', async () => {
    for (const c of poolCases) {
      const yShape = poolOutShape(c);
      const xv = Float32Array.from(randomValues(size(c.x), 31), (v) => Math.abs(v) + 1e-3);
      await expectAgree([{ shape: c.x, seed: 31 }, { shape: yShape, seed: 32 }], (x, dy) => {
        const xp = tf.tensor(xv, c.x);
        const y = tf.maxPool(xp as tf.Tensor4D, c.f, c.s, c.pad);
        return [tf.engine().runKernel('MaxPoolGrad', { dy, input: xp, output: y } as never,
          { filterSize: c.f, strides: c.s, pad: c.pad } as never) as tf.Tensor];
      }, 1e-6);
    }
  });

  it('Identity (tf.clone) shares the data instead of copying it, and the clone outlives the original', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const x = tf.tensor([1, 2, 3]);
    const before = backend.numDataIds();
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(before);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(backend.numDataIds()).toBe(before - 1);
    const s = tf.tensor(['a', 'b']);
    const s2 = tf.clone(s);
    s.dispose();
    expect(s2.dataSync()).toEqual(['a', 'b']);
    s2.dispose();
  });

  const convCases2: Array<{ x: number[]; f: number[]; stride: number | [number, number]; pad: Pad | number }> = [
    { x: [2, 12, 12, 4], f: [5, 5, 4, 8], stride: 1, pad: 'valid' },  // LeNet conv2-like
    { x: [3, 14, 14, 1], f: [5, 5, 1, 6], stride: 1, pad: 'valid' },  // one input channel (conv1)
    { x: [2, 9, 8, 3], f: [3, 2, 3, 4], stride: [2, 1], pad: 'same' },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 3], stride: 3, pad: 'valid' },
    { x: [2, 7, 7, 2], f: [3, 3, 2, 3], stride: 1, pad: 1 },
    { x: [1, 6, 6, 3], f: [1, 1, 3, 2], stride: 2, pad: 'valid' },
  ];
  for (const c of convCases2) {
    it(`conv2d input/filter grads match cpu: x ${c.x} f ${c.f} stride ${c.stride} pad ${c.pad}`, async () => {
      await expectAgree([{ shape: c.x, seed: 41 }, { shape: c.f, seed: 42 }], (x, f) => {
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad as Pad);
        const y = conv(x, f);
        const r = tf.tensor(randomValues(y.size, 43), y.shape);
        return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), r)))([x, f])];
      });
    });
  }

  it('conv2d input grad matches cpu when its columns are computed in chunks of images (large batch)', async () => {
    // 20 images × 36·36 positions × 5·5·8 column entries: more than the 4 Mi-float chunk.
    await expectAgree([{ shape: [20, 40, 40, 8], seed: 47 }, { shape: [5, 5, 8, 16], seed: 48 }], (x, f) => {
      const r = tf.tensor(randomValues(20 * 36 * 36 * 16, 49), [20, 36, 36, 16]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'), r)))(x)];
    });
  });

  it('matMul with transposed vector operands (the batch-1 dense gradients) matches cpu', async () => {
    await expectAgree([{ shape: [1, 7], seed: 44 }, { shape: [5, 7], seed: 45 }, { shape: [7, 1], seed: 46 }],
      (v, m, col) => [
        tf.matMul(v as tf.Tensor2D, m as tf.Tensor2D, false, true),
        tf.matMul(v as tf.Tensor2D, tf.ones([1, 3]) as tf.Tensor2D, true, false),
        tf.matMul(col as tf.Tensor2D, m as tf.Tensor2D, true, true),
        tf.matMul(m as tf.Tensor2D, v as tf.Tensor2D, false, true),
      ]);
  });

  it('the input gradient of a LeNet-like net matches cpu', async () => {
    const values = lenetValues(50);
    const xv = randomValues(size(LENET_X), 60);
    const rv = randomValues(LENET_X[0] * 5, 61);
    const want = await cpuLenetInputGrad(values, xv, rv);
    const got = tf.tidy(() => {
      const p = {} as LenetParams;
      for (const [name, shape] of Object.entries(LENET_SHAPES)) {
        p[name as keyof typeof LENET_SHAPES] = tf.tensor(values[name as keyof typeof LENET_SHAPES], [...shape]);
      }
      return lenetInputGrad(p, tf.tensor4d(xv, LENET_X), tf.tensor2d(rv, [LENET_X[0], 5])).dataSync() as Float32Array;
    });
    expect(maxRelDiff(got, want)).toBeLessThan(1e-4);
  });
});

// ---------------------------------------------------------------------------------------------
// The weight layout cache (off under IS_TEST, whose per-kernel leak check would flag its entries).

describe('wasm weight layout cache', () => {
  beforeAll(async () => {
    expect(await useNodeBackend('wasm')).toBe('wasm');
    tf.env().set('IS_TEST', false);
    clearWasmKernelCache();
  });
  afterAll(() => {
    clearWasmKernelCache();
    tf.env().set('IS_TEST', true);
  });

  function wasmParams(values: Record<keyof typeof LENET_SHAPES, Float32Array>, asVariables: boolean): LenetParams {
    const p = {} as LenetParams;
    for (const [name, shape] of Object.entries(LENET_SHAPES)) {
      const t = tf.tensor(values[name as keyof typeof LENET_SHAPES], [...shape]);
      p[name as keyof typeof LENET_SHAPES] = asVariables ? tf.variable(t, true, `lenet_${name}_${Math.random()}`) : t;
      if (asVariables) t.dispose();
    }
    return p;
  }

  function readParams(p: LenetParams): Record<keyof typeof LENET_SHAPES, Float32Array> {
    const out = {} as Record<keyof typeof LENET_SHAPES, Float32Array>;
    for (const name of Object.keys(LENET_SHAPES) as Array<keyof typeof LENET_SHAPES>) {
      out[name] = p[name].dataSync() as Float32Array;
    }
    return out;
  }

  it('repeated input gradients with the same weights hit the cache, match cpu every time, and leak no tensors', async () => {
    await tf.setBackend('wasm');
    const values = lenetValues(70);
    const xv = randomValues(size(LENET_X), 80);
    const rv = randomValues(LENET_X[0] * 5, 81);
    const want = await cpuLenetInputGrad(values, xv, rv);
    const p = wasmParams(values, false);
    const x = tf.tensor4d(xv, LENET_X);
    const r = tf.tensor2d(rv, [LENET_X[0], 5]);
    const tensorsBefore = tf.memory().numTensors;
    const hitsBefore = wasmKernelCacheInfo().hits;
    for (let i = 0; i < 4; i++) {
      const g = lenetInputGrad(p, x, r);
      expect(maxRelDiff(g.dataSync() as Float32Array, want)).toBeLessThan(1e-4);
      g.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const info = wasmKernelCacheInfo();
    // w3ᵀ, w4ᵀ and both filters' column layouts, from the second pass on.
    expect(info.entries).toBeGreaterThanOrEqual(4);
    expect(info.hits - hitsBefore).toBeGreaterThanOrEqual(8);
    tf.dispose([...Object.values(p), x, r]);
  });

  it('a cached layout is never used once its weight variable is assigned (training steps in between)', async () => {
    await tf.setBackend('wasm');
    const p = wasmParams(lenetValues(90), true);
    const xv = randomValues(size(LENET_X), 91);
    const rv = randomValues(LENET_X[0] * 5, 92);
    const x = tf.tensor4d(xv, LENET_X);
    const r = tf.tensor2d(rv, [LENET_X[0], 5]);
    const opt = tf.train.sgd(0.05);
    let previous: Float32Array | null = null;
    const held: tf.Tensor[] = [];
    for (let step = 0; step < 3; step++) {
      const want = await cpuLenetInputGrad(readParams(p), xv, rv);
      const hitsBefore = wasmKernelCacheInfo().hits;
      for (let i = 0; i < 3; i++) { // third pass runs from cached layouts
        const g = lenetInputGrad(p, x, r);
        expect(maxRelDiff(g.dataSync() as Float32Array, want)).toBeLessThan(1e-4);
        g.dispose();
      }
      expect(wasmKernelCacheInfo().hits).toBeGreaterThan(hitsBefore);
      if (previous) expect(maxRelDiff(want, previous)).toBeGreaterThan(1e-3); // the weights did change
      previous = want;
      // A training step: every variable gets a new value (Variable.assign gives it a new data id).
      // Clones keep the old values' data (and so their cached layouts) alive: a cache keyed on
      // anything but the data id would now serve a stale layout.
      const old = Object.values(p).map((v) => v.clone());
      const idsBefore = Object.values(p).map((v) => v.dataId);
      const cost = opt.minimize(() => tf.sum(tf.square(lenetLogits(p, x))) as tf.Scalar, true, Object.values(p) as tf.Variable[]);
      cost?.dispose();
      Object.values(p).forEach((v, i) => expect(v.dataId).not.toBe(idsBefore[i]));
      held.push(...old);
    }
    tf.dispose(held);
    // Entries of the replaced weights are freed (at the next patched call): only the live ones remain.
    lenetInputGrad(p, x, r).dispose();
    expect(wasmKernelCacheInfo().entries).toBeLessThanOrEqual(4 + 4); // live weights + the previous test's, if not yet pruned
    opt.dispose();
    tf.dispose([...Object.values(p), x, r]);
  });

  it('one data id used under two shapes gets two layouts', async () => {
    await tf.setBackend('wasm');
    const wv = randomValues(24, 100);
    const av = randomValues(8, 101);
    const bv = randomValues(18, 102);
    const ref = (w: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => [
      tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D, false, true),                    // a [2,4] · wᵀ, w [6,4]
      tf.matMul(b as tf.Tensor2D, tf.reshape(w, [4, 6]) as tf.Tensor2D, false, true), // b [3,6] · w'ᵀ, w' [4,6]
    ];
    await tf.setBackend('cpu');
    const want = tf.tidy(() => ref(tf.tensor(wv, [6, 4]), tf.tensor(av, [2, 4]), tf.tensor(bv, [3, 6])).map((t) => t.dataSync() as Float32Array));
    await tf.setBackend('wasm');
    const w = tf.tensor(wv, [6, 4]);
    for (let i = 0; i < 3; i++) {
      const got = tf.tidy(() => ref(w, tf.tensor(av, [2, 4]), tf.tensor(bv, [3, 6])).map((t) => t.dataSync() as Float32Array));
      expect(maxRelDiff(got[0], want[0])).toBeLessThan(1e-6);
      expect(maxRelDiff(got[1], want[1])).toBeLessThan(1e-6);
    }
    w.dispose();
  });

  it('frees the layouts of disposed weights at the next patched call, and all of them on clearWasmKernelCache', async () => {
    await tf.setBackend('wasm');
    clearWasmKernelCache();
    const backend = tf.engine().backend;
    const before = backend.numDataIds();
    const w = tf.tensor(randomValues(40, 110), [8, 5]);
    const a = tf.tensor(randomValues(15, 111), [3, 5]);
    for (let i = 0; i < 3; i++) tf.tidy(() => { tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D, false, true); });
    expect(wasmKernelCacheInfo().entries).toBe(1);
    expect(backend.numDataIds()).toBe(before + 3); // w, a and the cached wᵀ
    w.dispose();
    expect(wasmKernelCacheInfo().entries).toBe(1); // freed lazily...
    tf.tidy(() => { tf.matMul(a as tf.Tensor2D, a as tf.Tensor2D, false, true); }); // ...at the next patched call
    expect(wasmKernelCacheInfo().entries).toBe(0);
    expect(backend.numDataIds()).toBe(before + 1);
    const v = tf.tensor(randomValues(40, 112), [8, 5]);
    for (let i = 0; i < 3; i++) tf.tidy(() => { tf.matMul(a as tf.Tensor2D, v as tf.Tensor2D, false, true); });
    expect(wasmKernelCacheInfo().entries).toBe(1);
    clearWasmKernelCache();
    expect(wasmKernelCacheInfo().entries).toBe(0);
    expect(backend.numDataIds()).toBe(before + 2);
    tf.dispose([a, v]);
    expect(backend.numDataIds()).toBe(before);
  });
});
