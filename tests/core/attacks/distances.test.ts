import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distances, distancesOf } from '../../../src/core/attacks';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('distances', () => {
  it('computes L0, L2 and L∞ per example, tensor and plain versions agree', () => {
    const a = tf.tensor2d([[0, 0, 0, 0], [1, 1, 1, 1]]);
    const b = tf.tensor2d([[0, 0.3, 0, -0.4], [1, 1, 1, 1]]);
    const d = distances(a, b);
    expect(d.l0.arraySync()).toEqual([2, 0]);
    expect(d.l2.arraySync()[0]).toBeCloseTo(0.5, 6);
    expect(d.linf.arraySync()[0]).toBeCloseTo(0.4, 6);
    const p = distancesOf([0, 0, 0, 0], [0, 0.3, 0, -0.4]);
    expect(p.l0).toBe(2);
    expect(p.l2).toBeCloseTo(0.5, 6);
    expect(p.linf).toBeCloseTo(0.4, 6);
    expect(() => distancesOf([1], [1, 2])).toThrow(RangeError);
  });
});
