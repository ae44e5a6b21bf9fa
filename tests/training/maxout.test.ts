import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMaxoutNet, shiftImage, widenMaxoutWeights } from '../../training/maxout';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const LAYERS = ['maxout1', 'maxout2', 'logits'] as const;

describe('widenMaxoutWeights (Net2WiderNet)', () => {
  it('keeps the function of a maxout net while adding units, and leaks no tensors', () => {
    const narrow = buildMaxoutNet(3, 6, 3).model;
    const wide = buildMaxoutNet(4, 11, 3).model;
    const before = tf.memory().numTensors;
    const w = widenMaxoutWeights(LAYERS.map((n) => narrow.getLayer(n).getWeights()), 6, 3, 11, 7);
    LAYERS.forEach((n, i) => wide.getLayer(n).setWeights(w[i]));
    w.flat().forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.randomUniform([5, 28, 28, 1], 0, 1, 'float32', 1);
    const a = narrow.predict(x) as tf.Tensor;
    const b = wide.predict(x) as tf.Tensor;
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(diff).toBeLessThan(1e-4);
    // The wider net really has the new units.
    const k1 = wide.getLayer('maxout1').getWeights()[0];
    expect(k1.shape).toEqual([784, 33]);
    const k2 = wide.getLayer('maxout2').getWeights()[0];
    expect(k2.shape).toEqual([11, 33]);
    tf.dispose([x, a, b]);
    narrow.dispose();
    wide.dispose();
  });

  it('refuses to narrow', () => {
    const net = buildMaxoutNet(3, 6, 2).model;
    expect(() => widenMaxoutWeights(LAYERS.map((n) => net.getLayer(n).getWeights()), 6, 2, 4, 1)).toThrow(/narrow/);
    net.dispose();
  });
});

describe('shiftImage (training augmentation)', () => {
  const src = Float32Array.from({ length: 784 }, (_, i) => (i % 29) / 28 + 0.01);
  const at = (img: Float32Array, offset: number, r: number, c: number): number => img[offset + r * 28 + c];

  it('moves every pixel by (dx, dy) and fills what comes in from outside with 0', () => {
    const out = new Float32Array(2 * 784).fill(-1);
    shiftImage(src, 1, -2, out, 784);
    expect(out.subarray(0, 784).every((v) => v === -1)).toBe(true);
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const sr = r + 2;
        const sc = c - 1;
        const want = sr < 28 && sc >= 0 ? src[sr * 28 + sc] : 0;
        expect(at(out, 784, r, c)).toBe(want);
      }
    }
    // The first column and the two last rows came from outside.
    expect(at(out, 784, 5, 0)).toBe(0);
    expect(at(out, 784, 27, 5)).toBe(0);
    expect(at(out, 784, 0, 1)).toBe(src[2 * 28]);
  });

  it('is the identity for a zero shift', () => {
    const out = new Float32Array(784);
    shiftImage(src, 0, 0, out, 0);
    expect(Array.from(out)).toEqual(Array.from(src));
  });
});
