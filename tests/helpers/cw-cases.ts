/**
 * CW-L2's kernel test cases (src/core/kernels/cw-webgpu.ts, cw-webgl.ts), shared by the WebGPU test in Node
 * (tests/core/kernels/cw-webgpu.test.ts) and the WebGL test in headless Chromium (tests/e2e/webgl-kernels.test.ts):
 * the op path of attacks/cw.ts written out (the reference, on the cpu backend), and the kernels run on its inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { cwAdam, cwAdv, cwL2, cwMargin, cwSeed } from '../../src/core/kernels/cw-webgpu';
import { mulberry32 } from '../../src/core/random';

export const rand = (n: number, seed: number, lo = -1, hi = 1): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};
export const SHAPE: [number, number, number, number] = [3, 6, 5, 2];
export const SIZE = 3 * 6 * 5 * 2;
// scale > (hi − lo)/2: x′ overshoots hi where tanh w > 2/3, so the clip and its zero gradient are exercised.
export const BOX = { lo: -0.5, hi: 0.5, scale: 0.6 };
export const ADAM = { b1: 0.9, b2: 0.999, eps: 1e-8 };
export const LR = Float32Array.from([0.01, 0.0123, 0.0171]);
const Z = rand(4 * 10, 5, -6, 6);
// Row 3: a tie for the largest other logit (∂max/∂Z is 1 at both, as tf's Max gradient).
Z[30 + 4] = 7;
Z[30 + 8] = 7;
export const LABELS = [2, 0, 9, 1];
export const C = [0.5, 10, 3, 1];

/** The op path of attacks/cw.ts, written out (also the reference on the cpu backend). */
export function opPath(targeted: boolean, negKappa: number): Record<string, tf.Tensor> {
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

export const CASES = [
  { targeted: false, negKappa: 0 },
  { targeted: true, negKappa: -2 },
];

/** The kernels on the op path's inputs `want` (its arrays) for case `c`: x′, ‖x′ − x₀‖², margin, seed, Adam's w, m, v. */
export function kernelOutputs(c: { targeted: boolean; negKappa: number }, want: Record<string, ArrayLike<number>>): Record<string, tf.Tensor> {
  return tf.tidy(() => {
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
}
