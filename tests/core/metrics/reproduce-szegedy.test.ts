import { describe, expect, it } from 'vitest';
import {
  compareMeans, errorRate, gaussianNoise, mean, NOISE_STDDEVS, randomTargets, rmsDistortion, sampleSd, SZEGEDY_MODELS,
} from '../../../src/core/metrics/reproduce-szegedy';

describe('Szegedy et al. helpers', () => {
  it('rmsDistortion is √(Σ(x′−x)²/n) per image', () => {
    const x = new Float32Array([0, 0, 0, 0, 1, 1, 1, 1]);
    const adv = new Float32Array([1, 1, 1, 1, 1, 1, 1, 0.5]);
    const d = rmsDistortion(x, adv, 4);
    expect(d[0]).toBeCloseTo(1, 12);
    expect(d[1]).toBeCloseTo(Math.sqrt(0.25 / 4), 7);
    expect(rmsDistortion(x, x, 4)).toEqual([0, 0]);
    expect(() => rmsDistortion(x, adv.subarray(0, 4), 4)).toThrow();
  });

  it('randomTargets: never the label, seeded, every other class reachable', () => {
    const labels = Uint8Array.from({ length: 2000 }, (_, i) => i % 10);
    const t = randomTargets(labels, 10, 7);
    expect(Array.from(t).every((v, i) => v !== labels[i] && v >= 0 && v < 10)).toBe(true);
    expect(randomTargets(labels, 10, 7)).toEqual(t);
    expect(randomTargets(labels, 10, 8)).not.toEqual(t);
    const seen = new Set(Array.from(t).filter((_, i) => labels[i] === 3));
    expect(seen.size).toBe(9);
  });

  it('gaussianNoise: seeded, clipped to [0, 1], with the stddev asked for where clipping does not bite', () => {
    const x = new Float32Array(20000).fill(0.5);
    const y = gaussianNoise(x, 0.1, 1);
    expect(gaussianNoise(x, 0.1, 1)).toEqual(y);
    expect(Math.min(...y)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...y)).toBeLessThanOrEqual(1);
    const d = rmsDistortion(x, y, x.length)[0];
    expect(d).toBeGreaterThan(0.097);
    expect(d).toBeLessThan(0.103);
    expect(mean(Array.from(y))).toBeCloseTo(0.5, 2);
    // At 0 most of the negative half is clipped away: the RMS change is below the stddev.
    const z = gaussianNoise(new Float32Array(20000), 0.3, 2);
    expect(Math.min(...z)).toBe(0);
    expect(rmsDistortion(new Float32Array(20000), z, 20000)[0]).toBeLessThan(0.25);
    expect(gaussianNoise(new Float32Array(3), 0.1, 3)).toHaveLength(3);
  });

  it('errorRate, mean, sampleSd', () => {
    expect(errorRate([1, 2, 3, 4], [1, 2, 0, 0])).toBe(0.5);
    expect(errorRate([], [])).toBeNaN();
    expect(() => errorRate([1], [1, 2])).toThrow();
    expect(mean([1, 2, 3])).toBe(2);
    expect(sampleSd([1, 2, 3])).toBeCloseTo(1, 12);
    expect(sampleSd([1])).toBeNaN();
  });

  it('compareMeans: within 10% of the paper, or 2 standard errors of a small sample', () => {
    expect(compareMeans(0.058, 0.062, 0.01, 100).agrees).toBe(true);
    expect(compareMeans(0.05, 0.062, 0.001, 100)).toMatchObject({ agrees: false });
    expect(compareMeans(0.05, 0.062, 0.001, 100).difference).toBeCloseTo(-0.012, 12);
    expect(compareMeans(0.05, 0.062, 0.03, 4).agrees).toBe(true);
    expect(compareMeans(Number.NaN, 0.062, 0.01, 0).agrees).toBe(false);
  });

  it('names the six models of tables 1–2 and the two noise rows in the paper\'s order', () => {
    expect(SZEGEDY_MODELS.map((m) => m.paperName)).toEqual(['FC10(1e-4)', 'FC10(1e-2)', 'FC10(1)', 'FC100-100-10', 'FC200-200-10', 'AE400-10']);
    expect(NOISE_STDDEVS).toEqual([0.1, 0.3]);
  });
});
